//! Zero-copy fast path: `splice(2)` socket → pipe → socket, through nix's safe wrappers.
//!
//! Used by a connection direction while no active toxic is attached to it. The pipe is created
//! lazily on the first data, so idle connections cost no pipe. Only Linux has `splice`; elsewhere
//! (or if the kernel refuses) the link copies through user space instead.

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::Interest;
use tokio::net::TcpStream;

/// Pipe capacity asked for (the kernel may give less). Pages are only pinned while bytes
/// are in flight; a large pipe means fewer `splice` calls per megabyte.
const PIPE_SIZE: i32 = 1 << 20;

/// A pipe holding bytes spliced from the source and not yet spliced to the destination.
#[derive(Debug)]
pub(crate) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
    /// Bytes in the pipe.
    pub(crate) len: usize,
    /// The last fill found no free slot although the socket had data.
    full: bool,
}

#[cfg(target_os = "linux")]
impl Pipe {
    pub(crate) fn new() -> io::Result<Pipe> {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let capacity = match fcntl(&write, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE)) {
            Ok(n) => n,
            Err(_) => fcntl(&write, FcntlArg::F_GETPIPE_SZ)?,
        };
        Ok(Pipe {
            read,
            write,
            capacity: usize::try_from(capacity).unwrap_or(65536).max(4096),
            len: 0,
            full: false,
        })
    }

    /// Whether the pipe may take more bytes from the socket.
    pub(crate) fn has_room(&self) -> bool {
        !self.full && self.len < self.capacity
    }

    /// Moves bytes from `src` into the pipe. `Ok(0)` means EOF. `WouldBlock` means the socket
    /// has no data (its readiness is then cleared).
    ///
    /// `splice` answers `EAGAIN` both when the socket is empty and when the pipe has no free
    /// slot. With bytes already in the pipe the two are told apart by peeking one byte: if the
    /// socket has data, the pipe is marked full (readiness kept) until [`Pipe::drain_to`]
    /// makes room. An empty pipe is never full, so no peek is needed then.
    pub(crate) fn fill_from(&mut self, src: &TcpStream) -> io::Result<usize> {
        use nix::errno::Errno;
        use nix::fcntl::{splice, SpliceFFlags};
        let room = self.capacity - self.len;
        let pipe_has_data = self.len > 0;
        let result = src.try_io(Interest::READABLE, || {
            match splice(
                src,
                None,
                &self.write,
                None,
                room,
                SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK,
            ) {
                Ok(n) => Ok(Some(n)),
                Err(Errno::EAGAIN) if pipe_has_data => {
                    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
                    // Data (or a pending EOF) waiting: the pipe is what is full.
                    socket2::SockRef::from(src).peek(&mut probe).map(|_| None)
                }
                Err(e) => Err(io::Error::from(e)),
            }
        })?;
        match result {
            Some(n) => {
                self.len += n;
                Ok(n)
            }
            None => {
                self.full = true;
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }

    /// Moves bytes from the pipe to `dst`. `WouldBlock` means `dst` is not writable.
    pub(crate) fn drain_to(&mut self, dst: &TcpStream) -> io::Result<usize> {
        use nix::fcntl::{splice, SpliceFFlags};
        let len = self.len;
        let n = dst.try_io(Interest::WRITABLE, || {
            splice(
                &self.read,
                None,
                dst,
                None,
                len,
                SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK,
            )
            .map_err(io::Error::from)
        })?;
        if n == 0 {
            // Cannot happen with bytes in the pipe; never spin on it.
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.len -= n;
        self.full = false;
        Ok(n)
    }
}

#[cfg(not(target_os = "linux"))]
impl Pipe {
    pub(crate) fn has_room(&self) -> bool {
        false
    }
    pub(crate) fn new() -> io::Result<Pipe> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "splice is Linux-only",
        ))
    }
    pub(crate) fn fill_from(&mut self, _src: &TcpStream) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "splice is Linux-only",
        ))
    }
    pub(crate) fn drain_to(&mut self, _dst: &TcpStream) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "splice is Linux-only",
        ))
    }
}
