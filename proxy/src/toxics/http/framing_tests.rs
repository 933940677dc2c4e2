//! The framing state machine on hand-written messages, fed whole and byte by byte.

use super::*;

/// Feeds `input` in pieces of `step` bytes; returns the pieces (bodies merged per message)
/// or the unframed bytes. `body_of` says how a head's body is framed.
fn frame<H: Head + Clone>(
    input: &[u8],
    step: usize,
    body_of: impl Fn(&H) -> Body,
) -> (Vec<Piece<H>>, Option<Unframed>) {
    let mut framer = Framer::<H>::default();
    let mut pieces: Vec<Piece<H>> = Vec::new();
    for part in input.chunks(step) {
        let mut bytes = Bytes::copy_from_slice(part);
        loop {
            match framer.next(&mut bytes) {
                Ok(None) => break,
                Ok(Some(Piece::Head(b, h))) => {
                    framer.start_body(body_of(&h));
                    pieces.push(Piece::Head(b, h));
                }
                Ok(Some(Piece::Body(b))) => match pieces.last_mut() {
                    Some(Piece::Body(prev)) => {
                        let mut joined = prev.to_vec();
                        joined.extend_from_slice(&b);
                        *prev = Bytes::from(joined);
                    }
                    _ => pieces.push(Piece::Body(b)),
                },
                Ok(Some(Piece::End)) => pieces.push(Piece::End),
                Err(u) => return (pieces, Some(u)),
            }
        }
    }
    (pieces, None)
}

fn requests(input: &[u8], step: usize) -> (Vec<Piece<RequestHead>>, Option<Unframed>) {
    frame(input, step, |h: &RequestHead| h.body.clone())
}

fn rejoined<H>(pieces: &[Piece<H>]) -> Vec<u8> {
    pieces
        .iter()
        .flat_map(|p| match p {
            Piece::Head(b, _) | Piece::Body(b) => b.to_vec(),
            Piece::End => Vec::new(),
        })
        .collect()
}

fn heads(pieces: &[Piece<RequestHead>]) -> Vec<(String, String)> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Head(_, h) => Some((h.method.clone(), h.target.clone())),
            _ => None,
        })
        .collect()
}

const PIPELINE: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
GET /b HTTP/1.1\r\nHost: x\r\n\r\n\
PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n\
DELETE /d HTTP/1.1\r\nconnection: close\r\n\r\n";

#[test]
fn pipelined_requests_frame_the_same_whatever_the_split() {
    for step in [1, 2, 3, 7, 64, PIPELINE.len()] {
        let (pieces, unframed) = requests(PIPELINE, step);
        assert_eq!(unframed, None, "step {step}");
        assert_eq!(rejoined(&pieces), PIPELINE, "step {step}: bytes unchanged");
        assert_eq!(
            heads(&pieces),
            [
                ("POST", "/a"),
                ("GET", "/b"),
                ("PUT", "/c"),
                ("DELETE", "/d")
            ]
            .map(|(m, t)| (m.to_string(), t.to_string())),
            "step {step}"
        );
        assert_eq!(pieces.iter().filter(|p| **p == Piece::End).count(), 4);
    }
    let (pieces, _) = requests(PIPELINE, PIPELINE.len());
    assert_eq!(pieces[1], Piece::Body(Bytes::from_static(b"hello")));
    assert!(
        matches!(&pieces[pieces.len() - 2], Piece::Head(_, h) if h.close && h.body == Body::Length(0))
    );
}

#[test]
fn chunked_body_ends_after_its_trailers() {
    let msg = b"POST /x HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n\
a\r\n0123456789\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    let (pieces, unframed) = requests(msg, 1);
    assert_eq!(unframed, None);
    assert_eq!(
        pieces[1],
        Piece::Body(Bytes::from_static(b"a\r\n0123456789\r\n0\r\n\r\n"))
    );
    assert_eq!(heads(&pieces)[1].1, "/next");
}

#[test]
fn what_cannot_be_framed_comes_back_whole() {
    for bad in [
        &b"\x16\x03\x01\x02\x00binary"[..],
        b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    ] {
        let (pieces, unframed) = requests(bad, bad.len());
        assert!(pieces.is_empty(), "{:?}", String::from_utf8_lossy(bad));
        assert_eq!(unframed, Some(Unframed(Bytes::copy_from_slice(bad))));
    }
    let bad_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    let (pieces, unframed) = requests(bad_chunk, bad_chunk.len());
    assert_eq!(pieces.len(), 1);
    assert_eq!(unframed, Some(Unframed(Bytes::from_static(b"zz\r\n"))));
    let huge = [b"GET / HTTP/1.1\r\nx: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
    let (_, unframed) = requests(&huge, 4096);
    assert_eq!(unframed.map(|u| u.0.len()), Some(huge.len()));
}

fn response_body(input: &[u8], method: &str) -> Body {
    match ResponseHead::parse(input) {
        Ok(Some((_, head))) => head.body(method),
        other => panic!("not a response head: {other:?}"),
    }
}

#[test]
fn response_bodies_follow_the_request_and_status() {
    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n";
    assert_eq!(response_body(ok, "GET"), Body::Length(12));
    assert_eq!(response_body(ok, "HEAD"), Body::Length(0));
    assert_eq!(response_body(ok, "CONNECT"), Body::Tunnel);
    for no_body in [
        &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
        b"HTTP/1.1 304 Not Modified\r\ncontent-length: 50\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
    ] {
        assert_eq!(response_body(no_body, "GET"), Body::Length(0));
    }
    assert_eq!(
        response_body(b"HTTP/1.1 200 OK\r\n\r\n", "GET"),
        Body::UntilClose
    );
    assert_eq!(
        response_body(b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", "GET"),
        Body::UntilClose
    );
    assert_eq!(
        response_body(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 9\r\n\r\n",
            "GET"
        ),
        Body::Chunked(Chunked::default())
    );
    let (Ok(Some((_, interim))), Ok(Some((_, switching)))) = (
        ResponseHead::parse(b"HTTP/1.1 103 Early Hints\r\n\r\n"),
        ResponseHead::parse(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
    ) else {
        panic!("heads did not parse");
    };
    assert!(interim.interim() && !switching.interim());
}

#[test]
fn close_delimited_body_takes_everything() {
    let mut framer = Framer::<ResponseHead>::default();
    let mut input = Bytes::from_static(b"HTTP/1.0 200 OK\r\n\r\nall of it");
    let Ok(Some(Piece::Head(_, head))) = framer.next(&mut input) else {
        panic!("no head");
    };
    framer.start_body(head.body("GET"));
    assert!(framer.until_close());
    assert_eq!(
        framer.next(&mut input),
        Ok(Some(Piece::Body(Bytes::from_static(b"all of it"))))
    );
    assert!(!framer.at_boundary());
}

#[test]
fn http_1_0_closes_unless_kept_alive_and_expect_is_seen() {
    let parse = |b: &[u8]| match RequestHead::parse(b) {
        Ok(Some((_, h))) => h,
        other => panic!("{other:?}"),
    };
    assert!(parse(b"GET / HTTP/1.0\r\n\r\n").close);
    assert!(!parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").close);
    assert!(!parse(b"GET / HTTP/1.1\r\n\r\n").close);
    assert!(
        parse(b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\ncontent-length: 1\r\n\r\n")
            .expects_continue
    );
    assert!(parse(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").switches);
    assert!(parse(b"CONNECT h:443 HTTP/1.1\r\n\r\n").switches);
}
