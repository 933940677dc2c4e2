//! HTTP/1.1 message framing: splits one direction's bytes into message heads and bodies
//! without changing a byte. Heads are parsed with `httparse`; bodies are framed by
//! `Content-Length`, chunked transfer-encoding (sizes, extensions and trailers walked, bytes
//! kept), no body, or the close of the connection (RFC 9112 §6).
//!
//! A [`Framer`] is fed with [`Framer::next`] and returns [`Piece`]s in stream order. After a
//! [`Piece::Head`] it waits for the caller to say how the body is framed
//! ([`Framer::start_body`]): a response's framing depends on its request (`HEAD`, `CONNECT`),
//! which only the caller knows. Bytes it cannot frame come back as [`Unframed`], whole, so the
//! caller can pass them on unchanged.

use bytes::{Bytes, BytesMut};

/// Longest message head accepted; a longer one is passed on unframed.
const MAX_HEAD: usize = 64 << 10;
/// Most header fields a head may have.
const MAX_HEADERS: usize = 128;

/// A parsed request head: what the toxics match on and how its body is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    /// The connection closes after this exchange (`Connection: close`, or HTTP/1.0
    /// without `keep-alive`).
    pub close: bool,
    /// The connection may stop being HTTP after it (`CONNECT`, `Upgrade`).
    pub switches: bool,
    /// `Expect: 100-continue`: the client may hold the body back until told to send it.
    pub expects_continue: bool,
    pub body: Body,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub status: u16,
    pub chunked: bool,
    /// `Transfer-Encoding` present without chunked last: the body runs to the close.
    pub other_coding: bool,
    pub length: Option<u64>,
}

impl ResponseHead {
    /// Whether it is an interim (1xx) response other than `101 Switching Protocols`.
    pub(crate) fn interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// How the body is framed, given the request's method (RFC 9112 §6.3).
    pub(crate) fn body(&self, request_method: &str) -> Body {
        if request_method == "HEAD" || (100..200).contains(&self.status) {
            return Body::Length(0);
        }
        if request_method == "CONNECT" && (200..300).contains(&self.status) {
            return Body::Tunnel;
        }
        if self.status == 204 || self.status == 304 {
            return Body::Length(0);
        }
        if self.chunked {
            return Body::Chunked(Chunked::default());
        }
        if self.other_coding {
            return Body::UntilClose;
        }
        match self.length {
            Some(n) => Body::Length(n),
            None => Body::UntilClose,
        }
    }
}

/// How a message body is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// This many bytes (0: no body).
    Length(u64),
    /// Chunked transfer-encoding, walked to its last chunk and trailers.
    Chunked(Chunked),
    /// Everything until the connection closes.
    UntilClose,
    /// No longer HTTP: everything that follows.
    Tunnel,
}

/// A piece of a message, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<H> {
    /// A whole head: its bytes and what they say.
    Head(Bytes, H),
    /// Body bytes.
    Body(Bytes),
    /// The message ended (after its last body byte).
    End,
}

/// Bytes that could not be framed, with everything held back before them: pass them on
/// unchanged and stop framing this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unframed(pub Bytes);

/// A message head type (request or response), parsed from its bytes.
pub(crate) trait Head: Sized {
    /// `Ok(Some((len, head)))` for a whole head of `len` bytes, `Ok(None)` if more bytes are
    /// needed, `Err(())` if the bytes are not such a head.
    fn parse(buf: &[u8]) -> Result<Option<(usize, Self)>, ()>;
}

#[derive(Debug)]
enum State {
    Head,
    AwaitBody,
    Body(Body),
}

/// Splits one direction's bytes into [`Piece`]s. See the module docs.
#[derive(Debug)]
pub(crate) struct Framer<H> {
    state: State,
    head: BytesMut,
    _head: std::marker::PhantomData<fn() -> H>,
}

impl<H: Head> Default for Framer<H> {
    fn default() -> Self {
        Framer {
            state: State::Head,
            head: BytesMut::new(),
            _head: std::marker::PhantomData,
        }
    }
}

impl<H: Head> Framer<H> {
    /// The next piece from `input` (which keeps what is left), or `None` when `input` is
    /// used up (or a head is waiting for [`Framer::start_body`]).
    pub(crate) fn next(&mut self, input: &mut Bytes) -> Result<Option<Piece<H>>, Unframed> {
        match &mut self.state {
            State::AwaitBody => Ok(None),
            State::Head => {
                if input.is_empty() {
                    return Ok(None);
                }
                self.head.extend_from_slice(input);
                *input = Bytes::new();
                match H::parse(&self.head) {
                    Ok(Some((len, head))) => {
                        let mut all = std::mem::take(&mut self.head).freeze();
                        let bytes = all.split_to(len);
                        *input = all;
                        self.state = State::AwaitBody;
                        Ok(Some(Piece::Head(bytes, head)))
                    }
                    Ok(None) if self.head.len() <= MAX_HEAD => Ok(None),
                    _ => Err(Unframed(std::mem::take(&mut self.head).freeze())),
                }
            }
            State::Body(Body::Length(0)) => {
                self.state = State::Head;
                Ok(Some(Piece::End))
            }
            State::Body(Body::Length(left)) => {
                if input.is_empty() {
                    return Ok(None);
                }
                let n = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                *left -= n as u64;
                Ok(Some(Piece::Body(input.split_to(n))))
            }
            State::Body(Body::Chunked(chunked)) => {
                if input.is_empty() {
                    return Ok(None);
                }
                match chunked.scan(input) {
                    Ok((n, done)) => {
                        if done {
                            self.state = State::Body(Body::Length(0));
                        }
                        Ok(Some(Piece::Body(input.split_to(n))))
                    }
                    Err(()) => Err(Unframed(std::mem::take(input))),
                }
            }
            State::Body(Body::UntilClose | Body::Tunnel) => {
                if input.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(Piece::Body(std::mem::take(input))))
                }
            }
        }
    }

    /// How the body of the head just returned is framed.
    pub(crate) fn start_body(&mut self, body: Body) {
        self.state = State::Body(body);
    }

    /// At a message boundary with nothing held (a new head would start here).
    pub(crate) fn at_boundary(&self) -> bool {
        matches!(self.state, State::Head) && self.head.is_empty()
    }

    /// Inside a body that ends with the connection (the source's EOF ends the message).
    pub(crate) fn until_close(&self) -> bool {
        matches!(self.state, State::Body(Body::UntilClose))
    }

    /// The held bytes of an incomplete head (at EOF, to pass on unchanged).
    pub(crate) fn take_held(&mut self) -> Bytes {
        std::mem::take(&mut self.head).freeze()
    }
}

/// Where a chunked body is (RFC 9112 §7.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Chunked {
    /// Before a chunk-size line (a hex digit must come).
    #[default]
    SizeStart,
    /// In a chunk-size line: the size so far, whether in an extension, whether its CR was seen.
    Size { size: u64, ext: bool, cr: bool },
    /// In chunk data, this many bytes left.
    Data(u64),
    /// After chunk data: CR expected (`false`) or LF expected (`true`).
    DataEnd(bool),
    /// In the trailer section: bytes in the current line, whether its CR was seen.
    Trailer { len: usize, cr: bool },
}

impl Chunked {
    /// Walks `input`; returns how many bytes belong to the body and whether it ended there.
    fn scan(&mut self, input: &[u8]) -> Result<(usize, bool), ()> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self {
                Chunked::SizeStart => {
                    let d = hex(b).ok_or(())?;
                    *self = Chunked::Size {
                        size: d,
                        ext: false,
                        cr: false,
                    };
                }
                Chunked::Size { size, ext, cr } => {
                    if *cr {
                        if b != b'\n' {
                            return Err(());
                        }
                        *self = if *size == 0 {
                            Chunked::Trailer { len: 0, cr: false }
                        } else {
                            Chunked::Data(*size)
                        };
                    } else if b == b'\r' {
                        *cr = true;
                    } else if *ext {
                        if b == b'\n' {
                            return Err(());
                        }
                    } else if let Some(d) = hex(b) {
                        *size = size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(d))
                            .ok_or(())?;
                    } else if b == b';' || b == b' ' || b == b'\t' {
                        *ext = true;
                    } else {
                        return Err(());
                    }
                }
                Chunked::Data(left) => {
                    let n = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    *left -= n as u64;
                    i += n;
                    if *left == 0 {
                        *self = Chunked::DataEnd(false);
                    }
                    continue;
                }
                Chunked::DataEnd(lf) => match (*lf, b) {
                    (false, b'\r') => *lf = true,
                    (true, b'\n') => *self = Chunked::SizeStart,
                    _ => return Err(()),
                },
                Chunked::Trailer { len, cr } => {
                    if *cr {
                        if b != b'\n' {
                            return Err(());
                        }
                        if *len == 0 {
                            return Ok((i + 1, true));
                        }
                        *self = Chunked::Trailer { len: 0, cr: false };
                    } else if b == b'\r' {
                        *cr = true;
                    } else {
                        *len += 1;
                        if *len > MAX_HEAD {
                            return Err(());
                        }
                    }
                }
            }
            i += 1;
        }
        Ok((i, false))
    }
}

fn hex(b: u8) -> Option<u64> {
    (b as char).to_digit(16).map(u64::from)
}

/// What the framing headers of a head say.
#[derive(Debug, Default)]
struct Framing {
    length: Option<u64>,
    /// `Transfer-Encoding` present.
    coded: bool,
    /// Its last coding is `chunked`.
    chunked: bool,
    close: bool,
    keep_alive: bool,
    upgrade: bool,
    expects_continue: bool,
}

fn framing(headers: &[httparse::Header<'_>]) -> Result<Framing, ()> {
    let mut f = Framing::default();
    for h in headers {
        let value = std::str::from_utf8(h.value).map_err(|_| ())?;
        if h.name.eq_ignore_ascii_case("content-length") {
            for part in value.split(',') {
                let n: u64 = part.trim().parse().map_err(|_| ())?;
                if f.length.is_some_and(|old| old != n) {
                    return Err(());
                }
                f.length = Some(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                f.coded = true;
                f.chunked = coding.eq_ignore_ascii_case("chunked");
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                f.close |= token.eq_ignore_ascii_case("close");
                f.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            f.upgrade = true;
        } else if h.name.eq_ignore_ascii_case("expect") {
            f.expects_continue |= value.trim().eq_ignore_ascii_case("100-continue");
        }
    }
    Ok(f)
}

impl Head for RequestHead {
    fn parse(buf: &[u8]) -> Result<Option<(usize, Self)>, ()> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let len = match req.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(()),
        };
        let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version)
        else {
            return Err(());
        };
        let f = framing(req.headers)?;
        let body = if f.coded {
            // A request whose last coding is not chunked cannot be framed (RFC 9112 §6.3).
            if !f.chunked {
                return Err(());
            }
            Body::Chunked(Chunked::default())
        } else {
            Body::Length(f.length.unwrap_or(0))
        };
        Ok(Some((
            len,
            RequestHead {
                method: method.to_string(),
                target: target.to_string(),
                close: f.close || (version == 0 && !f.keep_alive),
                switches: method == "CONNECT" || f.upgrade,
                expects_continue: f.expects_continue,
                body,
            },
        )))
    }
}

impl Head for ResponseHead {
    fn parse(buf: &[u8]) -> Result<Option<(usize, Self)>, ()> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let len = match resp.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(()),
        };
        let Some(status) = resp.code else {
            return Err(());
        };
        let f = framing(resp.headers)?;
        Ok(Some((
            len,
            ResponseHead {
                status,
                chunked: f.coded && f.chunked,
                other_coding: f.coded && !f.chunked,
                length: f.length,
            },
        )))
    }
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
