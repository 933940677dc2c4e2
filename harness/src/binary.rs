//! Checks a host binary before it is copied into a container, so a binary that cannot run there
//! fails with what to do instead of as a readiness timeout.
//!
//! [`inspect`] reads the file's headers (with the `object` crate, lazily: a large debug binary is
//! not read whole): ELF or not, 32 or 64 bit, the CPU architecture, how it is linked (glibc,
//! musl, static, a `#!` script) and the highest `GLIBC_x.y` symbol version it needs.
//! [`BinaryInfo::check`] holds that against a [`Platform`]: the engine's architecture
//! (`docker info`) and the image's glibc (the label [`GLIBC_LABEL`], which shakedown's own images
//! carry; an image without it gets no glibc check).
//!
//! `shakedown_fixtures::start_service` runs this check for you; call
//! it yourself to fail early, e.g. in a build script or before a long setup:
//!
//! ```
//! use shakedown::binary::{glibc_of, inspect, Linkage, Platform};
//!
//! // This very executable (a doc test is a Rust binary built for the host).
//! let me = std::env::current_exe()?;
//! let info = inspect(&me).map_err(|m| m.reason)?;
//! assert_eq!(info.arch, std::env::consts::ARCH);
//! if let Linkage::Glibc { needs: Some(needs) } = info.linkage {
//!     println!("needs glibc {needs}");
//! }
//! // Held against the runtime image (trixie, glibc 2.41) on an engine of the same architecture:
//! let runtime = Platform { arch: std::env::consts::ARCH.into(), glibc: glibc_of("trixie") };
//! if let Err(misfit) = info.check(&runtime, false) {
//!     eprintln!("{}: {}", misfit.reason, misfit.fix);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, ReadCache, ReadRef};

use crate::error::{Error, Result};

/// Label holding the glibc version of an image's userland (`2.41`), put on shakedown's images.
pub const GLIBC_LABEL: &str = "dev.shakedown.glibc";

/// The glibc version of a Debian release's userland (`bookworm` 2.36, `trixie` 2.41), which a
/// binary copied into an image of that release must not exceed; `None` for a release not listed.
pub fn glibc_of(debian: &str) -> Option<GlibcVersion> {
    let version = match debian {
        "bookworm" => "2.36",
        "trixie" => "2.41",
        _ => return None,
    };
    GlibcVersion::parse(version)
}

/// A glibc version such as `2.41` (or `2.2.5`), ordered as glibc orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion(pub u32, pub u32, pub u32);

impl GlibcVersion {
    /// Parses `2.41`, `2.2.5`, or a symbol version name `GLIBC_2.34`; `None` for anything else
    /// (`GLIBC_PRIVATE`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix("GLIBC_").unwrap_or(text);
        let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().unwrap_or(Some(0))?;
        if parts.next().is_some() {
            return None;
        }
        Some(GlibcVersion(major, minor, patch))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.2 {
            0 => write!(f, "{}.{}", self.0, self.1),
            p => write!(f, "{}.{}.{p}", self.0, self.1),
        }
    }
}

/// How a binary finds its C library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linkage {
    /// Dynamically linked against glibc (the default of Rust's `*-linux-gnu` targets).
    Glibc {
        /// The highest `GLIBC_x.y` symbol version it needs (`None`: no versioned symbol).
        needs: Option<GlibcVersion>,
    },
    /// Dynamically linked against musl (its loader is `ld-musl-*`).
    Musl,
    /// Another dynamic loader (its path).
    Other(String),
    /// No dynamic loader: statically linked.
    Static,
    /// A `#!` script, run by the interpreter it names.
    Script(String),
}

/// What [`inspect`] found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryInfo {
    /// The CPU architecture, named as `uname -m` and `docker info` name it (`x86_64`, `aarch64`);
    /// empty for a script.
    pub arch: String,
    /// 32 or 64 (0 for a script).
    pub bits: u8,
    /// How it is linked.
    pub linkage: Linkage,
}

/// Where a binary is meant to run: the engine's architecture and the image's glibc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The engine's architecture as `docker info` reports it (`x86_64`, `aarch64`).
    pub arch: String,
    /// The image's glibc version, when known.
    pub glibc: Option<GlibcVersion>,
}

/// Why a binary does not fit a [`Platform`], and what to do: the two halves of
/// [`Error::BinaryIncompatible`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// What does not fit.
    pub reason: String,
    /// What to do about it.
    pub fix: String,
}

/// The architecture names `docker info` and `uname -m` use, for one ELF machine.
fn arch_of(machine: u16, bits: u8) -> String {
    match (machine, bits) {
        (elf::EM_X86_64, 64) => "x86_64".into(),
        (elf::EM_X86_64, _) => "x32".into(),
        (elf::EM_AARCH64, _) => "aarch64".into(),
        (elf::EM_386, _) => "i686".into(),
        (elf::EM_ARM, _) => "armv7l".into(),
        (elf::EM_RISCV, 64) => "riscv64".into(),
        (elf::EM_PPC64, _) => "ppc64le".into(),
        (elf::EM_S390, _) => "s390x".into(),
        (m, b) => format!("ELF machine {m} ({b}-bit)"),
    }
}

/// One name per architecture: `amd64` is `x86_64`, `arm64` is `aarch64`.
fn normalise_arch(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "armhf" | "arm" | "armv7" => "armv7l",
        "i386" | "i586" | "x86" => "i686",
        other => other,
    }
}

/// The Rust target a team would build for an architecture.
fn rust_target(arch: &str) -> String {
    match arch {
        "x86_64" | "aarch64" | "s390x" | "i686" => {
            format!("{arch}-unknown-linux-gnu")
        }
        "armv7l" => "armv7-unknown-linux-gnueabihf".into(),
        "ppc64le" => "powerpc64le-unknown-linux-gnu".into(),
        "riscv64" => "riscv64gc-unknown-linux-gnu".into(),
        other => format!("the Linux target of {other}"),
    }
}

/// Reads what [`BinaryInfo`] holds from a file; an error says what the file is instead.
///
/// ```
/// use shakedown::binary::inspect;
///
/// let source = std::env::temp_dir().join("shakedown-doc-inspect.rs");
/// std::fs::write(&source, "fn main() {}")?;
/// let misfit = inspect(&source).unwrap_err(); // a source file, not a binary
/// assert!(misfit.reason.contains("not an executable"));
/// assert!(misfit.fix.contains("target/debug"));
/// # std::fs::remove_file(&source)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn inspect(path: &Path) -> std::result::Result<BinaryInfo, Misfit> {
    let unreadable = |e: std::io::Error| Misfit {
        reason: format!("it cannot be read ({e})"),
        fix: "check the path and its permissions".into(),
    };
    let mut file = File::open(path).map_err(unreadable)?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(unreadable)?;
    let magic = &magic[..n];
    if magic.starts_with(b"#!") {
        let mut first = String::new();
        File::open(path)
            .map_err(unreadable)?
            .take(256)
            .read_to_string(&mut first)
            .ok();
        let interp = first
            .lines()
            .next()
            .unwrap_or("#!")
            .trim_start_matches("#!")
            .trim();
        return Ok(BinaryInfo {
            arch: String::new(),
            bits: 0,
            linkage: Linkage::Script(interp.to_string()),
        });
    }
    if magic != b"\x7fELF" {
        return Err(not_elf(magic));
    }
    let cache = ReadCache::new(file);
    let malformed = |e: object::read::Error| Misfit {
        reason: format!("its ELF headers are malformed ({e})"),
        fix: "rebuild it; a truncated copy or a failed link leaves such files".into(),
    };
    let class = cache.read_bytes_at(4, 1).map_err(|()| Misfit {
        reason: "it is too short to be an ELF file".into(),
        fix: "rebuild it".into(),
    })?[0];
    if class == elf::ELFCLASS64 {
        read_elf::<elf::FileHeader64<Endianness>, _>(&cache).map_err(malformed)
    } else {
        read_elf::<elf::FileHeader32<Endianness>, _>(&cache).map_err(malformed)
    }
}

fn not_elf(magic: &[u8]) -> Misfit {
    let macho: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    if magic == [0xca, 0xfe, 0xba, 0xbe] || macho.iter().any(|m| m == magic) {
        return Misfit {
            reason: "it is a macOS (Mach-O) executable, and containers run Linux".into(),
            fix: "build it for Linux: `cargo build --target aarch64-unknown-linux-gnu` (or \
                  x86_64-…, whichever `docker info` reports), e.g. with `cargo zigbuild`, or build \
                  it inside a Linux container"
                .into(),
        };
    }
    if magic.starts_with(b"MZ") {
        return Misfit {
            reason: "it is a Windows (PE) executable, and containers run Linux".into(),
            fix: "build it for Linux (`cargo build --target x86_64-unknown-linux-gnu`)".into(),
        };
    }
    Misfit {
        reason: "it is not an executable (neither an ELF file nor a `#!` script)".into(),
        fix: "point at the built binary (e.g. target/debug/<name>), not a source or data file"
            .into(),
    }
}

fn read_elf<'data, Elf, R>(data: R) -> object::read::Result<BinaryInfo>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let bits = if header.is_class_64() { 64 } else { 32 };
    let arch = arch_of(header.e_machine(endian), bits);
    let mut interpreter = None;
    for ph in header.program_headers(endian, data)? {
        if let Some(path) = ph.interpreter(endian, data)? {
            interpreter = Some(String::from_utf8_lossy(path).into_owned());
        }
    }
    let linkage = match interpreter {
        None => Linkage::Static,
        Some(i) if i.contains("ld-musl") => Linkage::Musl,
        Some(i) if i.contains("ld-linux") || i.contains("ld64.so") || i.contains("ld.so") => {
            Linkage::Glibc {
                needs: highest_glibc::<Elf, R>(header, endian, data)?,
            }
        }
        Some(i) => Linkage::Other(i),
    };
    Ok(BinaryInfo {
        arch,
        bits,
        linkage,
    })
}

/// The highest `GLIBC_x.y` among the symbol versions the file needs (its `SHT_GNU_VERNEED`).
fn highest_glibc<'data, Elf, R>(
    header: &Elf,
    endian: Endianness,
    data: R,
) -> object::read::Result<Option<GlibcVersion>>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    let sections = header.sections(endian, data)?;
    let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? else {
        return Ok(None);
    };
    let strings = sections.strings(endian, data, link)?;
    let mut highest = None;
    while let Some((_, mut versions)) = needs.next()? {
        while let Some(aux) = versions.next()? {
            let Ok(name) = strings.get(aux.vna_name.get(endian)) else {
                continue;
            };
            let version = std::str::from_utf8(name).ok().and_then(GlibcVersion::parse);
            if name.starts_with(b"GLIBC_") && version > highest {
                highest = version;
            }
        }
    }
    Ok(highest)
}

impl BinaryInfo {
    /// Whether this binary runs on `platform`; with `fake_clock`, also whether libfaketime can
    /// reach it (only through the dynamic loader).
    pub fn check(&self, platform: &Platform, fake_clock: bool) -> std::result::Result<(), Misfit> {
        if let Linkage::Script(_) = self.linkage {
            return Ok(());
        }
        let engine = normalise_arch(&platform.arch);
        if self.arch != engine {
            return Err(Misfit {
                reason: format!(
                    "it is a {}-bit {} binary and the engine runs {engine}",
                    self.bits, self.arch
                ),
                fix: format!(
                    "build it for the engine: `cargo build --target {}`",
                    rust_target(engine)
                ),
            });
        }
        match &self.linkage {
            Linkage::Musl => Err(Misfit {
                reason: "it is dynamically linked against musl, which the Debian image lacks"
                    .into(),
                fix: "link it statically (`RUSTFLAGS='-C target-feature=+crt-static' cargo build \
                      --target x86_64-unknown-linux-musl`) or build it for glibc (`*-linux-gnu`)"
                    .into(),
            }),
            Linkage::Static if fake_clock => Err(Misfit {
                reason: "it is statically linked, so libfaketime (preloaded by the dynamic \
                         loader) cannot give it a fake clock"
                    .into(),
                fix: "build it dynamically linked against glibc (Rust's `*-linux-gnu` default), \
                      or start it without a fake clock"
                    .into(),
            }),
            Linkage::Glibc { needs: Some(needs) } => match platform.glibc {
                Some(has) if *needs > has => Err(Misfit {
                    reason: format!(
                        "it needs glibc {needs} (symbol version GLIBC_{needs}) and the image has \
                         glibc {has}"
                    ),
                    fix: format!(
                        "build it where glibc is {has} or older (a Debian container of the \
                         image's release, or `cargo zigbuild --target {}.{has}`), link it \
                         statically (a musl target), or run it in a newer image \
                         (`ServiceSpec::image`)",
                        rust_target(engine)
                    ),
                }),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// Checks the binary at `path` against `platform` (see [`BinaryInfo::check`]); the error names
/// the binary and `image` and says what to do.
///
/// ```
/// use shakedown::binary::{check_binary, GlibcVersion, Platform};
///
/// let me = std::env::current_exe()?;
/// // An image whose glibc is older than anything a Rust binary links against:
/// let ancient = Platform { arch: std::env::consts::ARCH.into(), glibc: GlibcVersion::parse("2.1") };
/// let err = check_binary(&me, "my/old-image:1", &ancient, false).unwrap_err();
/// let text = err.to_string(); // names the binary, the image, both glibc versions and the fix
/// assert!(text.contains("my/old-image:1") && text.contains("glibc 2.1"), "{text}");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn check_binary(
    path: &Path,
    image: &str,
    platform: &Platform,
    fake_clock: bool,
) -> Result<BinaryInfo> {
    let misfit = |m: Misfit| Error::BinaryIncompatible {
        binary: path.display().to_string(),
        image: image.to_string(),
        reason: m.reason,
        fix: m.fix,
    };
    let info = inspect(path).map_err(misfit)?;
    info.check(platform, fake_clock).map_err(misfit)?;
    Ok(info)
}

/// The platform of `image` on the engine `docker` talks to: the engine's architecture and the
/// image's [`GLIBC_LABEL`] (`fallback` when the image lacks the label, e.g. an image of a known
/// recipe built before the label existed).
///
/// ```no_run
/// # async fn demo(topology: shakedown::Topology) -> shakedown::Result<()> {
/// use shakedown::binary::{check_binary, platform};
/// use shakedown::image::RUNTIME;
///
/// let runtime = platform(topology.docker(), &RUNTIME.reference(), None).await?;
/// check_binary("target/debug/my-service".as_ref(), &RUNTIME.reference(), &runtime, false)?;
/// # Ok(()) }
/// ```
pub async fn platform(
    docker: &testcontainers::bollard::Docker,
    image: &str,
    fallback: Option<GlibcVersion>,
) -> Result<Platform> {
    let info = docker
        .info()
        .await
        .map_err(|source| Error::docker("read the engine's information", "docker info", source))?;
    let labels = docker
        .inspect_image(image)
        .await
        .ok()
        .and_then(|i| i.config)
        .and_then(|c| c.labels);
    let glibc = labels
        .as_ref()
        .and_then(|l| l.get(GLIBC_LABEL))
        .and_then(|v| GlibcVersion::parse(v))
        .or(fallback);
    Ok(Platform {
        arch: info
            .architecture
            .unwrap_or_else(|| std::env::consts::ARCH.to_string()),
        glibc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_parse_and_order_like_glibc() {
        assert_eq!(GlibcVersion::parse("2.41"), Some(GlibcVersion(2, 41, 0)));
        assert_eq!(
            GlibcVersion::parse("GLIBC_2.2.5"),
            Some(GlibcVersion(2, 2, 5))
        );
        assert_eq!(GlibcVersion::parse("GLIBC_PRIVATE"), None);
        assert_eq!(GlibcVersion::parse("2"), None);
        assert_eq!(GlibcVersion::parse("2.3.4.5"), None);
        assert!(GlibcVersion::parse("2.39") > GlibcVersion::parse("2.4"));
        assert!(GlibcVersion::parse("2.2.5") < GlibcVersion::parse("2.3"));
        assert_eq!(GlibcVersion(2, 41, 0).to_string(), "2.41");
        assert_eq!(GlibcVersion(2, 2, 5).to_string(), "2.2.5");
    }

    fn glibc(needs: &str) -> BinaryInfo {
        BinaryInfo {
            arch: "x86_64".into(),
            bits: 64,
            linkage: Linkage::Glibc {
                needs: GlibcVersion::parse(needs),
            },
        }
    }

    fn platform(arch: &str, glibc: &str) -> Platform {
        Platform {
            arch: arch.into(),
            glibc: GlibcVersion::parse(glibc),
        }
    }

    #[test]
    fn a_binary_needing_a_newer_glibc_than_the_image_is_refused_with_both_versions() {
        let m = glibc("2.39")
            .check(&platform("x86_64", "2.36"), false)
            .unwrap_err();
        assert!(
            m.reason.contains("glibc 2.39") && m.reason.contains("glibc 2.36"),
            "{m:?}"
        );
        assert!(m.fix.contains("2.36 or older"), "{m:?}");
        assert_eq!(
            glibc("2.39").check(&platform("x86_64", "2.41"), false),
            Ok(())
        );
        assert_eq!(
            glibc("2.41").check(&platform("x86_64", "2.41"), false),
            Ok(())
        );
        // An image of unknown glibc gets the architecture check only.
        assert_eq!(glibc("2.99").check(&platform("x86_64", ""), false), Ok(()));
    }

    #[test]
    fn the_architecture_must_be_the_engines_by_any_of_its_names() {
        assert_eq!(
            glibc("2.3").check(&platform("amd64", "2.41"), false),
            Ok(())
        );
        let m = glibc("2.3")
            .check(&platform("aarch64", "2.41"), false)
            .unwrap_err();
        assert!(
            m.reason.contains("64-bit x86_64") && m.reason.contains("aarch64"),
            "{m:?}"
        );
        assert!(m.fix.contains("aarch64-unknown-linux-gnu"), "{m:?}");
        let i686 = BinaryInfo {
            arch: "i686".into(),
            bits: 32,
            ..glibc("2.3")
        };
        let m = i686.check(&platform("x86_64", "2.41"), false).unwrap_err();
        assert!(m.reason.contains("32-bit i686"), "{m:?}");
    }

    #[test]
    fn musl_is_refused_static_is_fine_unless_the_clock_is_faked_scripts_pass() {
        let with = |linkage| BinaryInfo {
            linkage,
            ..glibc("2.3")
        };
        let p = platform("x86_64", "2.41");
        assert!(with(Linkage::Musl)
            .check(&p, false)
            .unwrap_err()
            .fix
            .contains("crt-static"));
        assert_eq!(with(Linkage::Static).check(&p, false), Ok(()));
        let m = with(Linkage::Static).check(&p, true).unwrap_err();
        assert!(m.reason.contains("libfaketime"), "{m:?}");
        let script = BinaryInfo {
            arch: String::new(),
            bits: 0,
            linkage: Linkage::Script("/bin/sh".into()),
        };
        assert_eq!(script.check(&platform("aarch64", "2.41"), true), Ok(()));
    }

    #[test]
    fn non_elf_files_are_named_for_what_they_are() {
        assert!(not_elf(&[0xcf, 0xfa, 0xed, 0xfe]).reason.contains("macOS"));
        assert!(not_elf(b"MZ\x90\0").reason.contains("Windows"));
        assert!(not_elf(b"fn m").reason.contains("not an executable"));
        assert!(not_elf(b"").reason.contains("not an executable"));
    }
}
