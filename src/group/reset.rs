//! Resetting a group's committed offsets: where each partition moves. Pure; the console's
//! reset (with its dry run) and `skua group reset-offsets` both plan with [`new_offset`].

/// Where a reset moves each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Earliest,
    Latest,
    Offset(i64),
    /// The first offset at or after this time (the log end when there is none).
    Timestamp(i64),
}

/// The new offset of a partition with log range `[start, end]`: earliest, latest, or the
/// given offset — or, for a time, the offset ListOffsets found (`at_time`) — clamped into the
/// range.
pub fn new_offset(target: Target, start: i64, end: i64, at_time: Option<i64>) -> i64 {
    let end = end.max(start);
    match target {
        Target::Earliest => start,
        Target::Latest => end,
        Target::Offset(o) => o.clamp(start, end),
        Target::Timestamp(_) => at_time.filter(|o| *o >= 0).unwrap_or(end).clamp(start, end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_targets_clamp_to_the_log() {
        assert_eq!(new_offset(Target::Earliest, 3, 10, None), 3);
        assert_eq!(new_offset(Target::Latest, 3, 10, None), 10);
        assert_eq!(new_offset(Target::Offset(5), 3, 10, None), 5);
        assert_eq!(new_offset(Target::Offset(0), 3, 10, None), 3);
        assert_eq!(new_offset(Target::Offset(99), 3, 10, None), 10);
        assert_eq!(new_offset(Target::Timestamp(1), 3, 10, Some(7)), 7);
        // No record at or after the time: the log end.
        assert_eq!(new_offset(Target::Timestamp(1), 3, 10, Some(-1)), 10);
        assert_eq!(new_offset(Target::Timestamp(1), 3, 10, None), 10);
    }
}
