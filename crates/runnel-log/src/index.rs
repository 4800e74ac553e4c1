//! Sparse per-segment indexes, kept in memory and written to disk when a segment is sealed or
//! the log is closed.
//!
//! Offset index entry: relative offset u32 BE, file position u32 BE (8 bytes).
//! Time index entry: timestamp i64 BE, relative offset u32 BE (12 bytes).
//! Files hold entries back to back with no header; they are only trusted when their
//! structure checks out (size, monotonic entries, positions inside the log file) and are
//! rebuilt from the log otherwise.

pub(crate) const OFFSET_ENTRY_LEN: usize = 8;
pub(crate) const TIME_ENTRY_LEN: usize = 12;

/// Maps offsets to file positions. Entry `(r, p)`: the batch containing relative offset `r`
/// starts at position `p`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct OffsetIndex {
    entries: Vec<(u32, u32)>,
}

impl OffsetIndex {
    pub(crate) fn push(&mut self, relative_offset: u32, position: u32) {
        debug_assert!(self
            .entries
            .last()
            .is_none_or(|&(r, p)| r < relative_offset && p < position));
        self.entries.push((relative_offset, position));
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The position to start scanning from for `relative_offset`: that of the last entry at or
    /// below it, or the start of the file.
    pub(crate) fn lookup(&self, relative_offset: u32) -> u32 {
        let idx = self.entries.partition_point(|&(r, _)| r <= relative_offset);
        if idx == 0 {
            0
        } else {
            self.entries[idx - 1].1
        }
    }

    pub(crate) fn last(&self) -> Option<(u32, u32)> {
        self.entries.last().copied()
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * OFFSET_ENTRY_LEN);
        for (r, p) in &self.entries {
            out.extend_from_slice(&r.to_be_bytes());
            out.extend_from_slice(&p.to_be_bytes());
        }
        out
    }

    /// Decodes an index file, or `None` if it cannot be an index of a log of `log_len` bytes.
    pub(crate) fn decode(bytes: &[u8], log_len: u64) -> Option<Self> {
        if !bytes.len().is_multiple_of(OFFSET_ENTRY_LEN) {
            return None;
        }
        let mut index = OffsetIndex::default();
        for chunk in bytes.chunks_exact(OFFSET_ENTRY_LEN) {
            let r = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let p = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            let ordered = index
                .entries
                .last()
                .is_none_or(|&(lr, lp)| lr < r && lp < p);
            if !ordered || u64::from(p) >= log_len {
                return None;
            }
            index.entries.push((r, p));
        }
        Some(index)
    }
}

/// Maps timestamps to offsets. Entry `(t, r)`: `t` is the largest timestamp seen up to and
/// including the batch starting at relative offset `r`, so no record before `r` is newer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TimeIndex {
    entries: Vec<(i64, u32)>,
}

impl TimeIndex {
    /// Adds an entry if `timestamp` is newer than the last one.
    pub(crate) fn push(&mut self, timestamp: i64, relative_offset: u32) {
        if self
            .entries
            .last()
            .is_none_or(|&(t, r)| t < timestamp && r <= relative_offset)
        {
            self.entries.push((timestamp, relative_offset));
        }
    }

    /// The relative offset from which to scan for the first record at or after `timestamp`:
    /// everything before the returned offset is older.
    pub(crate) fn lookup(&self, timestamp: i64) -> u32 {
        let idx = self.entries.partition_point(|&(t, _)| t < timestamp);
        if idx == 0 {
            0
        } else {
            self.entries[idx - 1].1
        }
    }

    pub(crate) fn last(&self) -> Option<(i64, u32)> {
        self.entries.last().copied()
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * TIME_ENTRY_LEN);
        for (t, r) in &self.entries {
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&r.to_be_bytes());
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(TIME_ENTRY_LEN) {
            return None;
        }
        let mut index = TimeIndex::default();
        for chunk in bytes.chunks_exact(TIME_ENTRY_LEN) {
            let mut t = [0u8; 8];
            t.copy_from_slice(&chunk[..8]);
            let t = i64::from_be_bytes(t);
            let r = u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
            if index
                .entries
                .last()
                .is_some_and(|&(lt, lr)| lt >= t || lr > r)
            {
                return None;
            }
            index.entries.push((t, r));
        }
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup_finds_the_last_entry_at_or_below() {
        let mut index = OffsetIndex::default();
        index.push(10, 4096);
        index.push(20, 8192);
        assert_eq!(index.lookup(0), 0);
        assert_eq!(index.lookup(10), 4096);
        assert_eq!(index.lookup(19), 4096);
        assert_eq!(index.lookup(25), 8192);
        assert_eq!(
            OffsetIndex::decode(&index.encode(), 10_000),
            Some(index.clone())
        );
        assert_eq!(
            OffsetIndex::decode(&index.encode(), 8192),
            None,
            "position past the log"
        );
        assert_eq!(OffsetIndex::decode(&index.encode()[..7], 10_000), None);
    }

    #[test]
    fn time_lookup_starts_before_the_first_entry_that_reaches_the_target() {
        let mut index = TimeIndex::default();
        index.push(100, 0);
        index.push(90, 5); // not newer: ignored
        index.push(200, 10);
        assert_eq!(index.lookup(50), 0);
        assert_eq!(index.lookup(100), 0);
        assert_eq!(index.lookup(150), 0);
        assert_eq!(index.lookup(201), 10);
        assert_eq!(TimeIndex::decode(&index.encode()), Some(index));
    }
}
