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
    let mut headers = common_headers(answer.content_type, me);
    for (field, value) in answer.own_headers() {
        headers.insert(header_name(field), header_value(value));
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

/// The headers every answer of type `content_type` from the thread `me` carries. A thread gives
/// nearly all its answers the same ones, so it builds them once and copies them: a copy costs a
/// fraction of inserting field by field, which hashes each name and checks each value's bytes.
fn common_headers(content_type: &'static str, me: Identity) -> HeaderMap {
    thread_local! {
        static BUILT: RefCell<Option<(&'static str, Identity, HeaderMap)>> =
            const { RefCell::new(None) };
    }
    BUILT.with_borrow_mut(|built| match built {
        Some((kind, who, headers)) if *kind == content_type && *who == me => headers.clone(),
        _ => {
            // Room for every field an answer may add, so that adding them does not rehash.
            let mut headers = HeaderMap::with_capacity(Field::ALL.len() + 1);
            for (field, value) in shared::common_headers(content_type, me) {
                headers.insert(header_name(field), header_value(value));
            }
            built.insert((content_type, me, headers)).2.clone()
        }
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
}
