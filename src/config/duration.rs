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

/// The sections of a duration's text: each number as written (optionally signed), the
/// seconds' fraction digits.
#[derive(Default)]
struct Sections<'a> {
    negate: bool,
    days: Option<&'a str>,
    hours: Option<&'a str>,
    minutes: Option<&'a str>,
    seconds: Option<&'a str>,
    fraction: &'a str,
}

/// Java's `Duration.parse`: `[-+]P[nD][T[nH][nM][n[.f]S]]`, each n an optionally signed long,
/// f up to 9 digits (`.` or `,`), letters in any case, at least one section, and a `T` only
/// with a time section after it; the seconds' sign applies to their fraction. The result in
/// nanoseconds, or why the text is not a duration (Java's overflow errors included).
fn parse_java_duration_nanos(text: &str) -> Result<i128, String> {
    let not_a_duration = || {
        format!("'{text}' is not an ISO-8601 duration (PnDTnHnMn.nS, e.g. PT1H, P1DT2H30M, PT0.5S)")
    };
    let p = sections(text).ok_or_else(not_a_duration)?;
    let too_large = || format!("duration {text} is too large");
    let as_secs = |n: Option<&str>, unit: i128| -> Result<i128, String> {
        let Some(n) = n else { return Ok(0) };
        let n: i64 = n.parse().map_err(|_| not_a_duration())?;
        let secs = i128::from(n) * unit;
        i64::try_from(secs).map(i128::from).map_err(|_| too_large())
    };
    // Java adds the sections as longs, failing on overflow.
    let mut total_secs: i128 = 0;
    for part in [
        as_secs(p.seconds, 1)?,
        as_secs(p.minutes, 60)?,
        as_secs(p.hours, 3600)?,
        as_secs(p.days, 86_400)?,
    ] {
        total_secs += part;
        if i64::try_from(total_secs).is_err() {
            return Err(too_large());
        }
    }
    let mut nanos: i128 = 0;
    if !p.fraction.is_empty() {
        let digits: i128 = p.fraction.parse().map_err(|_| not_a_duration())?;
        nanos = digits * 10i128.pow(9 - p.fraction.len() as u32);
        if p.seconds.is_some_and(|s| s.starts_with('-')) {
            nanos = -nanos;
        }
    }
    let total = total_secs * 1_000_000_000 + nanos;
    Ok(if p.negate { -total } else { total })
}

/// Split a duration's text into its sections, as Java's pattern matches it; None if it does
/// not match (no section at all, a `T` without a time section, anything left over).
fn sections(text: &str) -> Option<Sections<'_>> {
    let s = text.as_bytes();
    let is = |at: usize, letter: u8| s.get(at).is_some_and(|b| b.eq_ignore_ascii_case(&letter));
    let mut p = Sections::default();
    let mut pos = 0;
    if let Some(sign @ (b'-' | b'+')) = s.first() {
        p.negate = *sign == b'-';
        pos = 1;
    }
    if !is(pos, b'P') {
        return None;
    }
    pos += 1;
    // A section: an optionally signed number (its text) followed by its unit letter.
    let section = |pos: &mut usize, unit: u8| -> Option<&str> {
        let end = signed_digits_end(s, *pos)?;
        if !is(end, unit) {
            return None;
        }
        let number = text.get(*pos..end)?;
        *pos = end + 1;
        Some(number)
    };
    p.days = section(&mut pos, b'D');
    if is(pos, b'T') {
        pos += 1;
        p.hours = section(&mut pos, b'H');
        p.minutes = section(&mut pos, b'M');
        if let Some(end) = signed_digits_end(s, pos) {
            let mut unit_at = end;
            let mut fraction = "";
            if matches!(s.get(end), Some(b'.' | b',')) {
                let digits = s[end + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits > 9 {
                    return None;
                }
                unit_at = end + 1 + digits;
                fraction = text.get(end + 1..unit_at)?;
            }
            if is(unit_at, b'S') {
                p.seconds = Some(text.get(pos..end)?);
                p.fraction = fraction;
                pos = unit_at + 1;
            }
        }
        if p.hours.is_none() && p.minutes.is_none() && p.seconds.is_none() {
            return None;
        }
    }
    let any = p.days.is_some() || p.hours.is_some() || p.minutes.is_some() || p.seconds.is_some();
    (pos == s.len() && any).then_some(p)
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
