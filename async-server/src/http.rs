//! hyper's types to and from the core's: a request's head and header lines in, an answer out.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION};
use hyper::{Request, Response, StatusCode, Version as HyperVersion};
use shared::{Answer, Field, Head, Identity, Value, Version};

pub fn head(request: &Request<Incoming>) -> Head<'_> {
    let target = request.uri().path_and_query();
    Head {
        method: request.method().as_str(),
        target: target.map_or("/", |target| target.as_str()),
        version: match request.version() {
            HyperVersion::HTTP_10 => Version::Http10,
            HyperVersion::HTTP_11 => Version::Http11,
            _ => Version::Other,
        },
    }
}

pub fn headers(request: &Request<Incoming>) -> impl Iterator<Item = (&str, &[u8])> {
    let headers = request.headers().iter();
    headers.map(|(name, value)| (name.as_str(), value.as_bytes()))
}

/// The answer to `request`, as answered by the thread `me`.
pub fn response<T>(request: &Request<T>, answer: Answer, me: Identity) -> Response<Full<Bytes>> {
    let mut headers = kept_headers(&answer, me);
    for (field, value) in answer.own_headers() {
        if let Some(slot) = headers.get_mut(header_name(field)) {
            *slot = header_value(value);
        }
    }
    if closes_after_http_1_0(request) {
        // hyper closes such a connection after the answer without saying so, as HTTP/1.0
        // allows; the interface has every closing answer say it.
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let mut response = Response::new(Full::new(match answer.body {
        Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
        Cow::Owned(text) => Bytes::from(text),
    }));
    *response.status_mut() = StatusCode::from_u16(answer.status).expect("a valid status");
    *response.headers_mut() = headers;
    response
}

/// The headers of an answer shaped like `answer` from the thread `me`: the common ones, and a
/// place for each of `answer`'s own fields, to be filled in. A thread gives nearly all its
/// answers one of a few shapes, so it builds each once and copies it: a copy costs a fraction
/// of inserting field by field, which hashes each name and checks each value's bytes, and a
/// copy has no room to spare, so even one field inserted into it would grow it.
fn kept_headers(answer: &Answer, me: Identity) -> HeaderMap {
    /// Which fields an answer carries: its own fields, who answered, and its content type
    /// (compared in that order, the cheapest first).
    type Shape = (u32, Identity, &'static str);
    thread_local! {
        static KEPT: RefCell<Vec<(Shape, HeaderMap)>> = const { RefCell::new(Vec::new()) };
    }
    let shape = (answer.own_fields(), me, answer.content_type);
    KEPT.with_borrow_mut(|kept| {
        if let Some((_, headers)) = kept.iter().find(|(kept, _)| *kept == shape) {
            return headers.clone();
        }
        let mut headers = HeaderMap::new();
        for (field, value) in shared::common_headers(answer.content_type, me) {
            headers.insert(header_name(field), header_value(value));
        }
        for (field, _) in answer.own_headers() {
            headers.insert(header_name(field), HeaderValue::from_static(""));
        }
        if kept.len() == 32 {
            kept.clear(); // a thread sees a handful of shapes; a bound all the same
        }
        kept.push((shape, headers.clone()));
        headers
    })
}

/// Whether `request` is HTTP/1.0 without `Connection: keep-alive`.
fn closes_after_http_1_0<T>(request: &Request<T>) -> bool {
    let keep_alive = |value: &HeaderValue| shared::says(value.as_bytes(), "keep-alive");
    request.version() == HyperVersion::HTTP_10
        && !request.headers().get_all(CONNECTION).iter().any(keep_alive)
}

/// The core's field as hyper's name, made once per field. hyper keeps names in lower case, and
/// copies a static one without counting references, so each name is lowered once and kept for
/// the life of the process.
fn header_name(field: Field) -> HeaderName {
    static NAMES: LazyLock<Vec<HeaderName>> = LazyLock::new(|| {
        let lowered = |field: &Field| &*field.as_str().to_ascii_lowercase().leak();
        Field::ALL
            .iter()
            .map(|field| HeaderName::from_static(lowered(field)))
            .collect()
    });
    NAMES[field as usize].clone()
}

fn header_value(value: Value) -> HeaderValue {
    match value {
        Value::Text(text) => HeaderValue::from_static(text),
        Value::Number(number) => HeaderValue::from(number),
        // Taken from a request header, so it is a valid header value.
        Value::Echo(text) => HeaderValue::from_str(text).expect("a request header's value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headers_kept_for_a_thread_follow_the_content_type_and_add_an_answers_own() {
        let request = Request::new(());
        let me = Identity::current();
        let text = response(&request, Answer::overloaded(), me);
        let page = Answer {
            content_type: shared::HTML,
            ..Answer::overloaded()
        };
        let html = response(&request, page, me);
        let again = response(&request, Answer::overloaded(), me);
        for (answer, kind) in [
            (&text, shared::CONTENT_TYPE),
            (&html, shared::HTML),
            (&again, shared::CONTENT_TYPE),
        ] {
            let headers = answer.headers();
            assert_eq!(headers["content-type"], kind);
            assert_eq!(headers["x-tid"], me.tid.to_string().as_str());
            assert_eq!(headers["retry-after"], "1");
            assert_eq!(headers["cache-control"], "no-store");
        }
    }

    #[test]
    fn an_answer_carries_its_own_fields_filled_in_and_no_others() {
        let request = Request::new(());
        let me = Identity::current();
        let plain = || Answer {
            retry_after: None,
            ..Answer::overloaded()
        };
        let queried = |pid| Answer {
            db_pid: Some(pid),
            ..plain()
        };
        for pid in [11, 12] {
            let answer = response(&request, queried(pid), me);
            assert_eq!(answer.headers()["x-db-pid"], pid.to_string().as_str());
        }
        let plain = response(&request, plain(), me);
        assert!(plain.headers().get("x-db-pid").is_none());
        assert!(plain.headers().get("retry-after").is_none());
        assert_eq!(plain.headers().len(), 4, "{:?}", plain.headers());
    }
}
