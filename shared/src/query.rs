//! What a request asks for in its query string: `seconds` (checked against the limits), `work`,
//! `count` and `via`.

use std::borrow::Cow;
use std::time::Duration;

use crate::{Limits, Via, Work};

/// The most calls one `/fetch` may make.
pub const MAX_CALLS: u32 = 32;

/// The wait a `/sleep` (or `/block`, `/offload`) asks for, or the one-line reason (ending in a
/// newline) it is refused.
pub(crate) fn requested_seconds(query: Option<&str>, limits: &Limits) -> Result<Duration, String> {
    let max = limits.max_sleep.as_secs_f64();
    // Written only for a refusal: every waiting request comes through here.
    let expected = || format!("expected seconds=S with S a decimal number from 0 to {max}");
    let refuse = |problem: String| Err(format!("{problem}; {}\n", expected()));
    let Some((raw, decoded)) = single(query, "seconds", expected)? else {
        return Ok(limits.default_sleep);
    };
    let refuse_value = |problem: &str| refuse(format!("seconds={} {problem}", quoted(raw)));
    let Some(text) = decoded else {
        return refuse_value("is not valid percent-encoding");
    };
    let Ok(seconds) = text.parse::<f64>() else {
        return refuse_value("is not a number");
    };
    if !seconds.is_finite() {
        return refuse_value("is not finite");
    }
    if seconds < 0.0 {
        return refuse_value("is negative");
    }
    if seconds > max {
        return refuse_value(&format!("is above the maximum of {max}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The work an `/offload` asks for (`work=sleep`, the default, `work=compute` or `work=query`),
/// or the one-line reason it is refused.
pub(crate) fn requested_work(query: Option<&str>) -> Result<Work, String> {
    const EXPECTED: &str = "expected work=sleep, work=compute or work=query";
    match single(query, "work", || EXPECTED.to_owned())? {
        None => Ok(Work::Sleep),
        Some((_, Some(text))) if text == "sleep" => Ok(Work::Sleep),
        Some((_, Some(text))) if text == "compute" => Ok(Work::Compute),
        Some((_, Some(text))) if text == "query" => Ok(Work::Query),
        Some((raw, _)) => Err(format!(
            "work={} is not a kind of work; {EXPECTED}\n",
            quoted(raw)
        )),
    }
}

/// How many calls a `/fetch` asks for (`count=K`, 1 by default, at most [`MAX_CALLS`]), or the
/// one-line reason it is refused.
pub(crate) fn requested_count(query: Option<&str>) -> Result<u32, String> {
    let expected = || format!("expected count=K with K a whole number from 1 to {MAX_CALLS}");
    match single(query, "count", expected)? {
        None => Ok(1),
        Some((raw, text)) => match text.and_then(|text| text.parse::<u32>().ok()) {
            Some(count @ 1..=MAX_CALLS) => Ok(count),
            _ => Err(format!(
                "count={} is not a count of calls; {}\n",
                quoted(raw),
                expected()
            )),
        },
    }
}

/// How a sync `/fetch` makes its calls (`via=threads`, or on the handler thread when absent),
/// or the one-line reason it is refused.
pub(crate) fn requested_via(query: Option<&str>) -> Result<Via, String> {
    const EXPECTED: &str = "expected via=threads, or no via for the handler thread";
    match single(query, "via", || EXPECTED.to_owned())? {
        None => Ok(Via::HandlerThread),
        Some((_, Some(text))) if text == "threads" => Ok(Via::Threads),
        Some((raw, _)) => Err(format!(
            "via={} is not a way to call; {EXPECTED}\n",
            quoted(raw)
        )),
    }
}

/// A query parameter's value as sent, and percent-decoded (`None` if that fails).
type Given<'q> = (&'q str, Option<Cow<'q, str>>);

/// The one value of `key` in the query (`None` if absent); refused if given more than once,
/// saying what is `expected`.
fn single<'q>(
    query: Option<&'q str>,
    key: &str,
    expected: impl Fn() -> String,
) -> Result<Option<Given<'q>>, String> {
    let mut given = None;
    for pair in query.unwrap_or("").split('&') {
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(name).as_deref() == Some(key) && given.replace(raw).is_some() {
            return Err(format!("{key} is given more than once; {}\n", expected()));
        }
    }
    Ok(given.map(|raw| (raw, percent_decode(raw))))
}

/// A query value as it is safe to echo in a one-line error: quoted, escaped, and cut short.
fn quoted(raw: &str) -> String {
    const SHOWN: usize = 40;
    let mut shown: String = raw
        .chars()
        .take(SHOWN)
        .flat_map(char::escape_debug)
        .collect();
    if raw.chars().nth(SHOWN).is_some() {
        shown.push_str("...");
    }
    format!("\"{shown}\"")
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    // Nearly every name and value has no escape, and is itself: no need to look further.
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    // percent-encoding passes a malformed escape (`%zz`, a lone `%`) through as it is; the
    // interface refuses it, so each `%` must start two hex digits.
    let well_formed = text.split('%').skip(1).all(|escape| {
        let hex = escape.as_bytes().get(..2);
        hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        default_sleep: Duration::from_secs(5),
        max_sleep: Duration::from_secs(60),
    };

    fn seconds(query: &str) -> Result<Duration, String> {
        requested_seconds(Some(query), &LIMITS)
    }

    fn refusal(query: &str) -> String {
        let reason = seconds(query).expect_err(query);
        assert!(reason.ends_with('\n'), "{reason:?}");
        assert_eq!(reason.lines().count(), 1, "one line: {reason:?}");
        assert!(
            reason.contains("from 0 to 60"),
            "says what is allowed: {reason:?}"
        );
        reason
    }

    #[test]
    fn no_seconds_is_the_default() {
        assert_eq!(requested_seconds(None, &LIMITS), Ok(Duration::from_secs(5)));
        assert_eq!(seconds("other=1"), Ok(Duration::from_secs(5)));
    }

    #[test]
    fn seconds_are_read_as_asked() {
        for (query, millis) in [
            ("seconds=1.5", 1500),
            ("seconds=0", 0),
            ("seconds=60", 60_000),
            ("seconds=.25", 250),
            ("seconds=2.", 2000),
            ("seconds=1e-1", 100),
            ("seconds=-0", 0),
            ("seconds=0%2E5", 500),
            ("_=123&seconds=0.01", 10),
            ("seconds=0.01&flag", 10),
            ("%73econds=3", 3000),
        ] {
            assert_eq!(seconds(query), Ok(Duration::from_millis(millis)), "{query}");
        }
    }

    #[test]
    fn each_kind_of_bad_seconds_says_what_was_wrong() {
        for (query, says) in [
            ("seconds=abc", "\"abc\" is not a number"),
            ("seconds=", "\"\" is not a number"),
            ("seconds", "\"\" is not a number"),
            ("seconds=1,5", "not a number"),
            ("seconds=%201", "not a number"),
            ("seconds=-1", "\"-1\" is negative"),
            ("seconds=-0.001", "is negative"),
            ("seconds=61", "\"61\" is above the maximum of 60"),
            ("seconds=60.0001", "above the maximum"),
            ("seconds=1e308", "above the maximum"),
            ("seconds=inf", "\"inf\" is not finite"),
            ("seconds=-inf", "not finite"),
            ("seconds=NaN", "\"NaN\" is not finite"),
            ("seconds=1e999", "not finite"),
            ("seconds=%zz", "not valid percent-encoding"),
            ("seconds=%4", "not valid percent-encoding"),
            ("seconds=%ff", "not valid percent-encoding"),
            ("seconds=1&seconds=2", "more than once"),
        ] {
            let reason = refusal(query);
            assert!(reason.contains(says), "{query}: {reason:?} lacks {says:?}");
        }
    }

    #[test]
    fn a_refusal_echoes_hostile_input_safely() {
        let long = format!("seconds={}", "9".repeat(10_000));
        let reason = refusal(&long);
        assert!(reason.len() < 200, "{} bytes", reason.len());
        assert!(reason.contains("...\""));
        // A decoded newline must not split the one line; it is not decoded into the echo.
        let reason = refusal("seconds=1%0A2");
        assert!(reason.contains("\"1%0A2\""), "{reason:?}");
        let reason = refusal("seconds=a\nb\u{7}");
        assert!(reason.contains(r#""a\nb\u{7}""#), "{reason:?}");
    }

    #[test]
    fn the_maximum_follows_the_limits() {
        let limits = Limits {
            default_sleep: Duration::ZERO,
            max_sleep: Duration::from_millis(1500),
        };
        let fine = requested_seconds(Some("seconds=1.5"), &limits);
        assert_eq!(fine, Ok(Duration::from_millis(1500)));
        let over = requested_seconds(Some("seconds=1.51"), &limits).unwrap_err();
        assert!(over.contains("maximum of 1.5;"), "{over:?}");
        assert_eq!(requested_seconds(None, &limits), Ok(Duration::ZERO));
    }
}
