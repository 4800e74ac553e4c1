//! A compact binary encoding of Nexmark events, so a workload can be written to a topic and
//! read back by a job.
//!
//! An event is a tag byte (0 person, 1 auction, 2 bid) and then its fields in the order the
//! structs declare them: unsigned integers as LEB128 varints, timestamps zigzag-encoded and
//! then as varints, strings as a varint byte length and their UTF-8 bytes. A person's city
//! and state are one byte, the index of the pair in the generator's table of places; a bid's
//! channel is one byte, the index in its table of channels. Nothing follows the last field.
//! `BidSerde` encodes a bid alone, without the tag.
//!
//! Decoding refuses anything that is not exactly such an encoding (short input, bytes left
//! over, an unknown tag or table index, a varint longer than ten bytes or beyond 64 bits,
//! text that is not UTF-8) with `StreamsError::Serde`; it never panics.

use bytes::Bytes;

use super::generator::{CHANNELS, CITIES};
use super::{Auction, Bid, Event, Person};
use crate::error::StreamsError;
use crate::record::Timestamp;
use crate::serdes::Serde;

const PERSON: u8 = 0;
const AUCTION: u8 = 1;
const BID: u8 = 2;

/// Every Nexmark event, in the encoding described in the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventSerde;

/// A bid on its own (the output of q1, for example): an event's encoding without its tag.
#[derive(Debug, Clone, Copy, Default)]
pub struct BidSerde;

impl Serde<Event> for EventSerde {
    fn serialize(&self, event: &Event) -> Result<Bytes, StreamsError> {
        let mut out = Vec::with_capacity(64);
        match event {
            Event::Person(person) => {
                out.push(PERSON);
                put_person(&mut out, person)?;
            }
            Event::Auction(auction) => {
                out.push(AUCTION);
                put_auction(&mut out, auction);
            }
            Event::Bid(bid) => {
                out.push(BID);
                put_bid(&mut out, bid)?;
            }
        }
        Ok(out.into())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Event, StreamsError> {
        let mut reader = Reader { bytes };
        let event = match reader.u8()? {
            PERSON => Event::Person(reader.person()?),
            AUCTION => Event::Auction(reader.auction()?),
            BID => Event::Bid(reader.bid()?),
            tag => return Err(refused(format!("unknown event tag {tag}"))),
        };
        reader.end()?;
        Ok(event)
    }
}

impl Serde<Bid> for BidSerde {
    fn serialize(&self, bid: &Bid) -> Result<Bytes, StreamsError> {
        let mut out = Vec::with_capacity(32);
        put_bid(&mut out, bid)?;
        Ok(out.into())
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Bid, StreamsError> {
        let mut reader = Reader { bytes };
        let bid = reader.bid()?;
        reader.end()?;
        Ok(bid)
    }
}

fn refused(reason: String) -> StreamsError {
    StreamsError::Serde(format!("nexmark event: {reason}"))
}

fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        // Truncation intended: the low seven bits, with the continuation bit set.
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_timestamp(out: &mut Vec<u8>, value: Timestamp) {
    put_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    put_u64(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

fn put_person(out: &mut Vec<u8>, person: &Person) -> Result<(), StreamsError> {
    let place = CITIES
        .iter()
        .position(|&(city, state)| city == person.city && state == person.state)
        .ok_or_else(|| {
            refused(format!(
                "person {} lives in {}, {}, which is not in the table of places",
                person.id, person.city, person.state
            ))
        })?;
    put_u64(out, person.id);
    put_str(out, &person.name);
    put_str(out, &person.email);
    out.push(place as u8);
    put_timestamp(out, person.date_time);
    Ok(())
}

fn put_auction(out: &mut Vec<u8>, auction: &Auction) {
    put_u64(out, auction.id);
    put_str(out, &auction.item_name);
    put_u64(out, auction.initial_bid);
    put_u64(out, auction.reserve);
    put_timestamp(out, auction.date_time);
    put_timestamp(out, auction.expires);
    put_u64(out, auction.seller);
    put_u64(out, auction.category);
}

fn put_bid(out: &mut Vec<u8>, bid: &Bid) -> Result<(), StreamsError> {
    let channel = CHANNELS
        .iter()
        .position(|&channel| channel == bid.channel)
        .ok_or_else(|| {
            refused(format!(
                "channel {} of a bid on auction {} is not in the table of channels",
                bid.channel, bid.auction
            ))
        })?;
    put_u64(out, bid.auction);
    put_u64(out, bid.bidder);
    put_u64(out, bid.price);
    out.push(channel as u8);
    put_timestamp(out, bid.date_time);
    Ok(())
}

/// Reads fields off the front of the bytes left.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, StreamsError> {
        let (&first, rest) = self
            .bytes
            .split_first()
            .ok_or_else(|| refused("the bytes end in the middle of a field".into()))?;
        self.bytes = rest;
        Ok(first)
    }

    fn u64(&mut self) -> Result<u64, StreamsError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8()?;
            // The tenth byte holds the top bit of a u64 and nothing more.
            if i == 9 && byte > 1 {
                return Err(refused("a varint goes beyond 64 bits".into()));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(refused("a varint is longer than ten bytes".into()))
    }

    fn timestamp(&mut self) -> Result<Timestamp, StreamsError> {
        let zigzag = self.u64()?;
        Ok((zigzag >> 1) as Timestamp ^ -((zigzag & 1) as Timestamp))
    }

    fn bytes(&mut self, len: u64) -> Result<&'a [u8], StreamsError> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= self.bytes.len())
            .ok_or_else(|| {
                refused(format!(
                    "a string of {len} bytes where {} are left",
                    self.bytes.len()
                ))
            })?;
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    fn string(&mut self) -> Result<String, StreamsError> {
        let len = self.u64()?;
        let bytes = self.bytes(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| refused(format!("a string is not UTF-8: {e}")))
    }

    fn index<T: Copy>(&mut self, table: &[T], what: &str) -> Result<T, StreamsError> {
        let index = self.u8()?;
        table
            .get(usize::from(index))
            .copied()
            .ok_or_else(|| refused(format!("no {what} has index {index}")))
    }

    fn end(&self) -> Result<(), StreamsError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(refused(format!(
                "{} bytes follow the event",
                self.bytes.len()
            )))
        }
    }

    fn person(&mut self) -> Result<Person, StreamsError> {
        let id = self.u64()?;
        let name = self.string()?;
        let email = self.string()?;
        let (city, state) = self.index(&CITIES, "place")?;
        Ok(Person {
            id,
            name,
            email,
            city,
            state,
            date_time: self.timestamp()?,
        })
    }

    fn auction(&mut self) -> Result<Auction, StreamsError> {
        Ok(Auction {
            id: self.u64()?,
            item_name: self.string()?,
            initial_bid: self.u64()?,
            reserve: self.u64()?,
            date_time: self.timestamp()?,
            expires: self.timestamp()?,
            seller: self.u64()?,
            category: self.u64()?,
        })
    }

    fn bid(&mut self) -> Result<Bid, StreamsError> {
        Ok(Bid {
            auction: self.u64()?,
            bidder: self.u64()?,
            price: self.u64()?,
            channel: self.index(&CHANNELS, "channel")?,
            date_time: self.timestamp()?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::super::{Generator, GeneratorConfig, SplitMix64};
    use super::*;

    fn events(n: usize) -> Vec<Event> {
        Generator::new(GeneratorConfig::default(), SplitMix64::new(1))
            .take(n)
            .collect()
    }

    #[test]
    fn generated_events_round_trip_in_a_few_bytes() {
        let mut total = 0;
        let sample = events(100_000);
        for event in &sample {
            let bytes = EventSerde.serialize(event).unwrap();
            total += bytes.len();
            assert_eq!(&EventSerde.deserialize(&bytes).unwrap(), event);
            if let Event::Bid(bid) = event {
                let alone = BidSerde.serialize(bid).unwrap();
                assert_eq!(alone[..], bytes[1..]);
                assert_eq!(&BidSerde.deserialize(&alone).unwrap(), bid);
            }
        }
        // Mostly bids of about 16 bytes.
        let average = total / sample.len();
        assert!((10..=24).contains(&average), "{average} bytes per event");
    }

    #[test]
    fn every_truncation_and_every_extra_byte_is_refused() {
        for event in events(200) {
            let bytes = EventSerde.serialize(&event).unwrap();
            for len in 0..bytes.len() {
                let result = EventSerde.deserialize(&bytes[..len]);
                assert!(matches!(result, Err(StreamsError::Serde(_))), "{len}");
            }
            let mut longer = bytes.to_vec();
            longer.push(0);
            assert!(matches!(
                EventSerde.deserialize(&longer),
                Err(StreamsError::Serde(_))
            ));
        }
        assert!(BidSerde.deserialize(&[]).is_err());
    }

    #[test]
    fn bad_tags_indices_varints_and_text_are_refused() {
        let refused = |bytes: &[u8]| {
            let result = EventSerde.deserialize(bytes);
            assert!(matches!(result, Err(StreamsError::Serde(_))), "{bytes:?}");
        };
        // A bid on auction 1 by bidder 2 at price 3 on the web at time 4, then broken ones.
        assert!(EventSerde.deserialize(&[BID, 1, 2, 3, 0, 8]).is_ok());
        refused(&[3, 1, 2, 3, 0, 8]);
        refused(&[0xff]);
        refused(&[BID, 1, 2, 3, 4, 8]);
        refused(&[BID, 1, 2, 3, 0xff, 8]);
        // A person in place 6 of 6, and one whose name is not UTF-8.
        refused(&[PERSON, 1, 1, b'a', 1, b'b', 6, 8]);
        assert!(EventSerde
            .deserialize(&[PERSON, 1, 1, b'a', 1, b'b', 5, 8])
            .is_ok());
        refused(&[PERSON, 1, 1, 0xff, 1, b'b', 5, 8]);
        // A string longer than what is left, and one whose length does not fit anywhere.
        refused(&[PERSON, 1, 9, b'a', 1, b'b', 5, 8]);
        let mut huge = vec![PERSON, 1];
        huge.extend([0xff; 9]);
        huge.extend([0x01, b'a']);
        refused(&huge);
        // Varints: the largest u64 is accepted; one more bit, or an eleventh byte, is not.
        let mut max = vec![BID];
        max.extend([0xff; 9]);
        max.extend([0x01, 2, 3, 0, 8]);
        assert_eq!(
            EventSerde
                .deserialize(&max)
                .unwrap()
                .into_bid()
                .unwrap()
                .auction,
            u64::MAX
        );
        let mut beyond = vec![BID];
        beyond.extend([0xff; 9]);
        beyond.extend([0x02, 2, 3, 0, 8]);
        refused(&beyond);
        let mut eleven = vec![BID];
        eleven.extend([0x80; 10]);
        eleven.extend([0x00, 2, 3, 0, 8]);
        refused(&eleven);
    }

    #[test]
    fn values_outside_the_tables_are_not_encoded() {
        let Some(Event::Person(mut person)) = events(1).pop() else {
            panic!("the first event is a person");
        };
        person.state = "AZ";
        person.city = "Boise";
        assert!(matches!(
            EventSerde.serialize(&Event::Person(person)),
            Err(StreamsError::Serde(_))
        ));
        let bid = Bid {
            auction: 1,
            bidder: 2,
            price: 3,
            channel: "fax",
            date_time: 4,
        };
        assert!(BidSerde.serialize(&bid).is_err());
        assert!(EventSerde.serialize(&Event::Bid(bid)).is_err());
    }

    fn any_event() -> impl Strategy<Value = Event> {
        let person = (
            any::<u64>(),
            ".*",
            ".*",
            prop::sample::select(CITIES.to_vec()),
            any::<i64>(),
        )
            .prop_map(|(id, name, email, (city, state), date_time)| {
                Event::Person(Person {
                    id,
                    name,
                    email,
                    city,
                    state,
                    date_time,
                })
            });
        let auction = (
            (any::<u64>(), ".*", any::<u64>(), any::<u64>()),
            (any::<i64>(), any::<i64>(), any::<u64>(), any::<u64>()),
        )
            .prop_map(
                |(
                    (id, item_name, initial_bid, reserve),
                    (date_time, expires, seller, category),
                )| {
                    Event::Auction(Auction {
                        id,
                        item_name,
                        initial_bid,
                        reserve,
                        date_time,
                        expires,
                        seller,
                        category,
                    })
                },
            );
        let bid = (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            prop::sample::select(CHANNELS.to_vec()),
            any::<i64>(),
        )
            .prop_map(|(auction, bidder, price, channel, date_time)| {
                Event::Bid(Bid {
                    auction,
                    bidder,
                    price,
                    channel,
                    date_time,
                })
            });
        prop_oneof![person, auction, bid]
    }

    proptest! {
        #[test]
        fn any_event_round_trips(event in any_event()) {
            let bytes = EventSerde.serialize(&event).unwrap();
            prop_assert_eq!(EventSerde.deserialize(&bytes).unwrap(), event);
        }

        #[test]
        fn any_bytes_decode_or_are_refused_without_panicking(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            if let Ok(event) = EventSerde.deserialize(&bytes) {
                let again = EventSerde.serialize(&event).unwrap();
                prop_assert_eq!(EventSerde.deserialize(&again).unwrap(), event);
            }
            let _ = BidSerde.deserialize(&bytes);
        }

        #[test]
        fn damaged_encodings_decode_or_are_refused_without_panicking(
            event in any_event(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = EventSerde.serialize(&event).unwrap().to_vec();
            let at = at.index(bytes.len());
            bytes[at] = byte;
            if let Ok(decoded) = EventSerde.deserialize(&bytes) {
                let again = EventSerde.serialize(&decoded).unwrap();
                prop_assert_eq!(EventSerde.deserialize(&again).unwrap(), decoded);
            }
        }
    }
}
