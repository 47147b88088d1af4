//! ISO-8601 durations as Java's `Duration.parse` reads them (`PnDTnHnMn.nS`), for configs that
//! take one (Kafka's `share.auto.offset.reset=by_duration:<duration>`). Pure, no I/O.

/// A non-negative ISO-8601 duration, as Java's `Duration.parse` reads it, in milliseconds
/// (fractions of a millisecond dropped).
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let nanos = parse_java_duration_nanos(text)?;
    if nanos < 0 {
        return Err(format!("negative duration {text} is not allowed"));
    }
    u64::try_from(nanos / 1_000_000)
        .ok()
        .filter(|ms| i64::try_from(*ms).is_ok())
        .ok_or_else(|| format!("duration {text} is too long"))
}

/// Java's `Duration.parse`: `[-+]P[nD][T[nH][nM][n[.f]S]]`, each n an optionally signed long,
/// f up to 9 digits (`.` or `,`), letters in any case, at least one section, and a `T` only
/// with a time section after it; the seconds' sign applies to their fraction. The result in
/// nanoseconds, or why the text is not a duration (Java's overflow errors included).
fn parse_java_duration_nanos(text: &str) -> Result<i128, String> {
    let not_a_duration = || {
        format!("'{text}' is not an ISO-8601 duration (PnDTnHnMn.nS, e.g. PT1H, P1DT2H30M, PT0.5S)")
    };
    let s = text.as_bytes();
    let mut pos = 0;
    let negate = match s.first() {
        Some(b'-') => {
            pos = 1;
            true
        }
        Some(b'+') => {
            pos = 1;
            false
        }
        _ => false,
    };
    if !s.get(pos).is_some_and(|b| b.eq_ignore_ascii_case(&b'P')) {
        return Err(not_a_duration());
    }
    pos += 1;
    // A section: an optionally signed number (its text) followed by its unit letter.
    let section = |pos: &mut usize, unit: u8| -> Option<&str> {
        let end = signed_digits_end(s, *pos)?;
        if !s.get(end).is_some_and(|b| b.eq_ignore_ascii_case(&unit)) {
            return None;
        }
        let number = text.get(*pos..end)?;
        *pos = end + 1;
        Some(number)
    };
    let days = section(&mut pos, b'D');
    let (mut hours, mut minutes, mut seconds, mut fraction) = (None, None, None, "");
    if s.get(pos).is_some_and(|b| b.eq_ignore_ascii_case(&b'T')) {
        pos += 1;
        hours = section(&mut pos, b'H');
        minutes = section(&mut pos, b'M');
        if let Some(end) = signed_digits_end(s, pos) {
            let mut unit_at = end;
            if matches!(s.get(end), Some(b'.' | b',')) {
                let digits = s[end + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                unit_at = end + 1 + digits;
                if digits > 9 {
                    return Err(not_a_duration());
                }
                fraction = text.get(end + 1..unit_at).unwrap_or("");
            }
            if s.get(unit_at)
                .is_some_and(|b| b.eq_ignore_ascii_case(&b'S'))
            {
                seconds = text.get(pos..end);
                pos = unit_at + 1;
            } else {
                fraction = "";
            }
        }
        if hours.is_none() && minutes.is_none() && seconds.is_none() {
            return Err(not_a_duration());
        }
    }
    if pos != s.len()
        || (days.is_none() && hours.is_none() && minutes.is_none() && seconds.is_none())
    {
        return Err(not_a_duration());
    }
    let too_large = || format!("duration {text} is too large");
    let as_secs = |n: Option<&str>, unit: i128| -> Result<i128, String> {
        let Some(n) = n else { return Ok(0) };
        let n: i64 = n.parse().map_err(|_| not_a_duration())?;
        let secs = i128::from(n) * unit;
        i64::try_from(secs).map(i128::from).map_err(|_| too_large())
    };
    let mut total_secs: i128 = 0;
    for part in [
        as_secs(seconds, 1)?,
        as_secs(minutes, 60)?,
        as_secs(hours, 3600)?,
        as_secs(days, 86_400)?,
    ] {
        total_secs += part;
        if i64::try_from(total_secs).is_err() {
            return Err(too_large());
        }
    }
    let mut nanos: i128 = 0;
    if !fraction.is_empty() {
        let digits: i128 = fraction.parse().map_err(|_| not_a_duration())?;
        nanos = digits * 10i128.pow(9 - fraction.len() as u32);
        if seconds.is_some_and(|s| s.starts_with('-')) {
            nanos = -nanos;
        }
    }
    let total = total_secs * 1_000_000_000 + nanos;
    Ok(if negate { -total } else { total })
}

/// The end of `[-+]?[0-9]+` starting at `pos`, if there is one.
fn signed_digits_end(s: &[u8], pos: usize) -> Option<usize> {
    let start = pos + usize::from(matches!(s.get(pos), Some(b'-' | b'+')));
    let digits = s
        .get(start..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (digits > 0).then_some(start + digits)
}
