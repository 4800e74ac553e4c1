//! Request shapes: one walker per request struct, mirroring kafka-protocol 0.18's generated
//! decoders field for field and version for version (see the module docs of `shape`).
//! Derived mechanically from those decoders; regenerate when kafka-protocol is upgraded.

pub(super) mod produce_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn partition_produce_data(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(3..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 9 {
            w.compact_bytes()?
        } else {
            w.bytes()?
        };
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn produce_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(3..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 9 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(2)?;
        w.skip(4)?;
        if version >= 9 {
            w.compact_array(|w| topic_produce_data(w, version))?
        } else {
            w.array(|w| topic_produce_data(w, version))?
        };
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn topic_produce_data(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(3..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 12 {
            if version >= 9 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 13 {
            w.skip(16)?
        } else {
        };
        if version >= 9 {
            w.compact_array(|w| partition_produce_data(w, version))?
        } else {
            w.array(|w| partition_produce_data(w, version))?
        };
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod fetch_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn fetch_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 9 {
            w.skip(4)?
        } else {
        };
        w.skip(8)?;
        if version >= 12 {
            w.skip(4)?
        } else {
        };
        if version >= 5 {
            w.skip(8)?
        } else {
        };
        w.skip(4)?;
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                match tag {
                    0 => {
                        if version >= 17 {
                            w.skip(16)?;
                        } else {
                            return Err(ShapeError::BadTag(tag));
                        }
                    }
                    1 => {
                        if version >= 18 {
                            w.skip(8)?;
                        } else {
                            return Err(ShapeError::BadTag(tag));
                        }
                    }
                    _ => {
                        w.skip(size as usize)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn fetch_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 14 {
            w.skip(4)?
        } else {
        };
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        w.skip(1)?;
        if version >= 7 {
            w.skip(4)?
        } else {
        };
        if version >= 7 {
            w.skip(4)?
        } else {
        };
        if version >= 12 {
            w.compact_array(|w| fetch_topic(w, version))?
        } else {
            w.array(|w| fetch_topic(w, version))?
        };
        if version >= 7 {
            if version >= 12 {
                w.compact_array(|w| forgotten_topic(w, version))?
            } else {
                w.array(|w| forgotten_topic(w, version))?
            }
        } else {
        };
        if version >= 11 {
            if version >= 12 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                match tag {
                    0 => {
                        w.compact_string()?;
                    }
                    1 => {
                        if version >= 15 {
                            replica_state(w, version)?;
                        } else {
                            return Err(ShapeError::BadTag(tag));
                        }
                    }
                    _ => {
                        w.skip(size as usize)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn fetch_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 12 {
            if version >= 12 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 13 {
            w.skip(16)?
        } else {
        };
        if version >= 12 {
            w.compact_array(|w| fetch_partition(w, version))?
        } else {
            w.array(|w| fetch_partition(w, version))?
        };
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn forgotten_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 7 && version <= 12 {
            if version >= 12 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 13 {
            w.skip(16)?
        } else {
        };
        if version >= 7 {
            if version >= 12 {
                w.compact_array(|w| w.skip(4))?
            } else {
                w.array(|w| w.skip(4))?
            }
        } else {
        };
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn replica_state(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(4..=18).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 15 {
            w.skip(4)?
        } else {
        };
        if version >= 15 {
            w.skip(8)?
        } else {
        };
        if version >= 12 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod list_offsets_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn list_offsets_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=10).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 4 {
            w.skip(4)?
        } else {
        };
        w.skip(8)?;
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn list_offsets_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=10).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 2 {
            w.skip(1)?
        } else {
        };
        if version >= 6 {
            w.compact_array(|w| list_offsets_topic(w, version))?
        } else {
            w.array(|w| list_offsets_topic(w, version))?
        };
        if version >= 10 {
            w.skip(4)?
        } else {
        };
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn list_offsets_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=10).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 6 {
            w.compact_array(|w| list_offsets_partition(w, version))?
        } else {
            w.array(|w| list_offsets_partition(w, version))?
        };
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod metadata_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn metadata_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 9 {
            w.compact_array(|w| metadata_request_topic(w, version))?
        } else {
            w.array(|w| metadata_request_topic(w, version))?
        };
        if version >= 4 {
            w.skip(1)?
        } else {
        };
        if version >= 8 && version <= 10 {
            w.skip(1)?
        } else {
        };
        if version >= 8 {
            w.skip(1)?
        } else {
        };
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn metadata_request_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=13).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 10 {
            w.skip(16)?
        } else {
        };
        if version >= 9 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 9 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod offset_commit_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn offset_commit_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 8 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(4)?;
        if version >= 8 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 7 {
            if version >= 8 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version <= 4 {
            w.skip(8)?
        } else {
        };
        if version >= 8 {
            w.compact_array(|w| offset_commit_request_topic(w, version))?
        } else {
            w.array(|w| offset_commit_request_topic(w, version))?
        };
        if version >= 8 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn offset_commit_request_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        if version >= 6 {
            w.skip(4)?
        } else {
        };
        if version >= 8 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 8 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn offset_commit_request_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 8 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 8 {
            w.compact_array(|w| offset_commit_request_partition(w, version))?
        } else {
            w.array(|w| offset_commit_request_partition(w, version))?
        };
        if version >= 8 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod offset_fetch_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn offset_fetch_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 7 {
            if version >= 6 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version <= 7 {
            if version >= 6 {
                w.compact_array(|w| offset_fetch_request_topic(w, version))?
            } else {
                w.array(|w| offset_fetch_request_topic(w, version))?
            }
        } else {
        };
        if version >= 8 {
            w.compact_array(|w| offset_fetch_request_group(w, version))?
        } else {
        };
        if version >= 7 {
            w.skip(1)?
        } else {
        };
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn offset_fetch_request_group(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 8 {
            w.compact_string()?
        } else {
        };
        if version >= 9 {
            w.compact_string()?
        } else {
        };
        if version >= 9 {
            w.skip(4)?
        } else {
        };
        if version >= 8 {
            w.compact_array(|w| offset_fetch_request_topics(w, version))?
        } else {
        };
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn offset_fetch_request_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 7 {
            if version >= 6 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version <= 7 {
            if version >= 6 {
                w.compact_array(|w| w.skip(4))?
            } else {
                w.array(|w| w.skip(4))?
            }
        } else {
        };
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn offset_fetch_request_topics(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 8 {
            w.compact_string()?
        } else {
        };
        if version >= 8 {
            w.compact_array(|w| w.skip(4))?
        } else {
        };
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod find_coordinator_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn find_coordinator_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=6).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version <= 3 {
            if version >= 3 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 1 {
            w.skip(1)?
        } else {
        };
        if version >= 4 {
            w.compact_array(|w| w.compact_string())?
        } else {
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod join_group_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn join_group_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(4)?;
        if version >= 1 {
            w.skip(4)?
        } else {
        };
        if version >= 6 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 5 {
            if version >= 6 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 6 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 6 {
            w.compact_array(|w| join_group_request_protocol(w, version))?
        } else {
            w.array(|w| join_group_request_protocol(w, version))?
        };
        if version >= 8 {
            w.compact_string()?
        } else {
        };
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn join_group_request_protocol(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=9).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 6 {
            w.compact_bytes()?
        } else {
            w.bytes()?
        };
        if version >= 6 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod heartbeat_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn heartbeat_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(4)?;
        if version >= 4 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 3 {
            if version >= 4 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod leave_group_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn leave_group_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version <= 2 {
            w.string()?
        } else {
        };
        if version >= 3 {
            if version >= 4 {
                w.compact_array(|w| member_identity(w, version))?
            } else {
                w.array(|w| member_identity(w, version))?
            }
        } else {
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn member_identity(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            if version >= 4 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 3 {
            if version >= 4 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 5 {
            w.compact_string()?
        } else {
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod sync_group_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn sync_group_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(4)?;
        if version >= 4 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 3 {
            if version >= 4 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version >= 5 {
            w.compact_string()?
        } else {
        };
        if version >= 5 {
            w.compact_string()?
        } else {
        };
        if version >= 4 {
            w.compact_array(|w| sync_group_request_assignment(w, version))?
        } else {
            w.array(|w| sync_group_request_assignment(w, version))?
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn sync_group_request_assignment(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 4 {
            w.compact_bytes()?
        } else {
            w.bytes()?
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod describe_groups_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn describe_groups_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=6).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 5 {
            w.compact_array(|w| w.compact_string())?
        } else {
            w.array(|w| w.string())?
        };
        if version >= 3 {
            w.skip(1)?
        } else {
        };
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod list_groups_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn list_groups_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_array(|w| w.compact_string())?
        } else {
        };
        if version >= 5 {
            w.compact_array(|w| w.compact_string())?
        } else {
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod create_topics_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn creatable_replica_assignment(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=7).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        if version >= 5 {
            w.compact_array(|w| w.skip(4))?
        } else {
            w.array(|w| w.skip(4))?
        };
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn creatable_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=7).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 5 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(4)?;
        w.skip(2)?;
        if version >= 5 {
            w.compact_array(|w| creatable_replica_assignment(w, version))?
        } else {
            w.array(|w| creatable_replica_assignment(w, version))?
        };
        if version >= 5 {
            w.compact_array(|w| creatable_topic_config(w, version))?
        } else {
            w.array(|w| creatable_topic_config(w, version))?
        };
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn creatable_topic_config(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=7).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 5 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 5 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn create_topics_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=7).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 5 {
            w.compact_array(|w| creatable_topic(w, version))?
        } else {
            w.array(|w| creatable_topic(w, version))?
        };
        w.skip(4)?;
        w.skip(1)?;
        if version >= 5 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod delete_topics_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn delete_topic_state(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=6).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_string()?
        } else {
        };
        if version >= 6 {
            w.skip(16)?
        } else {
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn delete_topics_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=6).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 6 {
            w.compact_array(|w| delete_topic_state(w, version))?
        } else {
        };
        if version <= 5 {
            if version >= 4 {
                w.compact_array(|w| w.compact_string())?
            } else {
                w.array(|w| w.string())?
            }
        } else {
        };
        w.skip(4)?;
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod delete_records_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn delete_records_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn delete_records_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| delete_records_topic(w, version))?
        } else {
            w.array(|w| delete_records_topic(w, version))?
        };
        w.skip(4)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn delete_records_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 2 {
            w.compact_array(|w| delete_records_partition(w, version))?
        } else {
            w.array(|w| delete_records_partition(w, version))?
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod init_producer_id_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn init_producer_id_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(4)?;
        if version >= 3 {
            w.skip(8)?
        } else {
        };
        if version >= 3 {
            w.skip(2)?
        } else {
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod offset_for_leader_epoch_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn offset_for_leader_epoch_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.skip(4)?
        } else {
        };
        if version >= 4 {
            w.compact_array(|w| offset_for_leader_topic(w, version))?
        } else {
            w.array(|w| offset_for_leader_topic(w, version))?
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn offset_for_leader_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(4)?;
        w.skip(4)?;
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn offset_for_leader_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(2..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 4 {
            w.compact_array(|w| offset_for_leader_partition(w, version))?
        } else {
            w.array(|w| offset_for_leader_partition(w, version))?
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod add_partitions_to_txn_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn add_partitions_to_txn_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_array(|w| add_partitions_to_txn_transaction(w, version))?
        } else {
        };
        if version <= 3 {
            if version >= 3 {
                w.compact_string()?
            } else {
                w.string()?
            }
        } else {
        };
        if version <= 3 {
            w.skip(8)?
        } else {
        };
        if version <= 3 {
            w.skip(2)?
        } else {
        };
        if version <= 3 {
            if version >= 3 {
                w.compact_array(|w| add_partitions_to_txn_topic(w, version))?
            } else {
                w.array(|w| add_partitions_to_txn_topic(w, version))?
            }
        } else {
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn add_partitions_to_txn_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 3 {
            w.compact_array(|w| w.skip(4))?
        } else {
            w.array(|w| w.skip(4))?
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn add_partitions_to_txn_transaction(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_string()?
        } else {
        };
        if version >= 4 {
            w.skip(8)?
        } else {
        };
        if version >= 4 {
            w.skip(2)?
        } else {
        };
        if version >= 4 {
            w.skip(1)?
        } else {
        };
        if version >= 4 {
            w.compact_array(|w| add_partitions_to_txn_topic(w, version))?
        } else {
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod add_offsets_to_txn_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn add_offsets_to_txn_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(8)?;
        w.skip(2)?;
        if version >= 3 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod end_txn_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn end_txn_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(8)?;
        w.skip(2)?;
        w.skip(1)?;
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod txn_offset_commit_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn txn_offset_commit_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 3 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(8)?;
        w.skip(2)?;
        if version >= 3 {
            w.skip(4)?
        } else {
        };
        if version >= 3 {
            w.compact_string()?
        } else {
        };
        if version >= 3 {
            w.compact_string()?
        } else {
        };
        if version >= 3 {
            w.compact_array(|w| txn_offset_commit_request_topic(w, version))?
        } else {
            w.array(|w| txn_offset_commit_request_topic(w, version))?
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn txn_offset_commit_request_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        w.skip(8)?;
        if version >= 2 {
            w.skip(4)?
        } else {
        };
        if version >= 3 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn txn_offset_commit_request_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=5).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 3 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 3 {
            w.compact_array(|w| txn_offset_commit_request_partition(w, version))?
        } else {
            w.array(|w| txn_offset_commit_request_partition(w, version))?
        };
        if version >= 3 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod describe_configs_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn describe_configs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 4 {
            w.compact_array(|w| describe_configs_resource(w, version))?
        } else {
            w.array(|w| describe_configs_resource(w, version))?
        };
        w.skip(1)?;
        if version >= 3 {
            w.skip(1)?
        } else {
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn describe_configs_resource(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 4 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 4 {
            w.compact_array(|w| w.compact_string())?
        } else {
            w.array(|w| w.string())?
        };
        if version >= 4 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod alter_configs_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn alter_configs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| alter_configs_resource(w, version))?
        } else {
            w.array(|w| alter_configs_resource(w, version))?
        };
        w.skip(1)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn alter_configs_resource(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 2 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 2 {
            w.compact_array(|w| alterable_config(w, version))?
        } else {
            w.array(|w| alterable_config(w, version))?
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn alterable_config(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 2 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod describe_log_dirs_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn describable_log_dir_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 2 {
            w.compact_array(|w| w.skip(4))?
        } else {
            w.array(|w| w.skip(4))?
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn describe_log_dirs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(1..=4).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| describable_log_dir_topic(w, version))?
        } else {
            w.array(|w| describable_log_dir_topic(w, version))?
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod create_partitions_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn create_partitions_assignment(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| w.skip(4))?
        } else {
            w.array(|w| w.skip(4))?
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn create_partitions_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| create_partitions_topic(w, version))?
        } else {
            w.array(|w| create_partitions_topic(w, version))?
        };
        w.skip(4)?;
        w.skip(1)?;
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn create_partitions_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=3).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(4)?;
        if version >= 2 {
            w.compact_array(|w| create_partitions_assignment(w, version))?
        } else {
            w.array(|w| create_partitions_assignment(w, version))?
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod delete_groups_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn delete_groups_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 2 {
            w.compact_array(|w| w.compact_string())?
        } else {
            w.array(|w| w.string())?
        };
        if version >= 2 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod incremental_alter_configs_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn alter_configs_resource(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 1 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 1 {
            w.compact_array(|w| alterable_config(w, version))?
        } else {
            w.array(|w| alterable_config(w, version))?
        };
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn alterable_config(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_string()?
        } else {
            w.string()?
        };
        w.skip(1)?;
        if version >= 1 {
            w.compact_string()?
        } else {
            w.string()?
        };
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn incremental_alter_configs_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        if version >= 1 {
            w.compact_array(|w| alter_configs_resource(w, version))?
        } else {
            w.array(|w| alter_configs_resource(w, version))?
        };
        w.skip(1)?;
        if version >= 1 {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod offset_delete_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn offset_delete_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.string()?;
        w.array(|w| offset_delete_request_topic(w, version))?;
        Ok(())
    }

    pub(in crate::shape) fn offset_delete_request_partition(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.skip(4)?;
        Ok(())
    }

    pub(in crate::shape) fn offset_delete_request_topic(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.string()?;
        w.array(|w| offset_delete_request_partition(w, version))?;
        Ok(())
    }
}

pub(super) mod describe_cluster_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn describe_cluster_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(1)?;
        if version >= 1 {
            w.skip(1)?
        } else {
        };
        if version >= 2 {
            w.skip(1)?
        } else {
        };
        {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod describe_producers_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn describe_producers_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| topic_request(w, version))?;
        {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn topic_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_array(|w| w.skip(4))?;
        {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod describe_transactions_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn describe_transactions_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if version != 0 {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| w.compact_string())?;
        {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod list_transactions_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn list_transactions_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=2).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| w.compact_string())?;
        w.compact_array(|w| w.skip(8))?;
        if version >= 1 {
            w.skip(8)?
        } else {
        };
        if version >= 2 {
            w.compact_string()?
        } else {
        };
        {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod consumer_group_heartbeat_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn consumer_group_heartbeat_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_string()?;
        w.compact_string()?;
        w.skip(4)?;
        w.compact_string()?;
        w.compact_string()?;
        w.skip(4)?;
        w.compact_array(|w| w.compact_string())?;
        if version >= 1 {
            w.compact_string()?
        } else {
        };
        w.compact_string()?;
        w.compact_array(|w| topic_partitions(w, version))?;
        {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }

    pub(in crate::shape) fn topic_partitions(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.skip(16)?;
        w.compact_array(|w| w.skip(4))?;
        {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}

pub(super) mod consumer_group_describe_request {
    #![allow(unused_variables, clippy::all)]
    use crate::shape::{ShapeError, Walker};

    pub(in crate::shape) fn consumer_group_describe_request(
        w: &mut Walker<'_>,
        version: i16,
    ) -> Result<(), ShapeError> {
        if !(0..=1).contains(&version) {
            return Err(ShapeError::Version(version));
        }
        w.compact_array(|w| w.compact_string())?;
        w.skip(1)?;
        {
            let num_tagged_fields = w.uvarint()?;
            w.check_count(num_tagged_fields as usize)?;
            for _ in 0..num_tagged_fields {
                let tag: u32 = w.uvarint()?;
                let size: u32 = w.uvarint()?;
                let _ = size;
                w.skip(size as usize)?;
            }
        }
        Ok(())
    }
}
