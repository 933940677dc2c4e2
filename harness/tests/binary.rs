//! The binary check on real files: tiny C programs built with the system's `cc`, one of them
//! linked against a library whose symbol carries the version `GLIBC_2.99` (so it "needs" a glibc
//! no image has), the test executable itself, a script and non-ELF files.

use std::path::{Path, PathBuf};
use std::process::Command;

use shakedown::binary::{check_binary, inspect, GlibcVersion, Linkage, Platform};

/// A scratch folder removed on drop (also when an assertion fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "shakedown-binary-{tag}-{}-{:08x}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, body: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// Runs `cc` with `args` in `dir`; fails the test with cc's output if it fails.
fn cc(dir: &Path, args: &[&str]) {
    let out = Command::new("cc")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary check's tests need a C compiler (`cc`)");
    assert!(
        out.status.success(),
        "cc {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn trixie() -> Platform {
    Platform {
        arch: std::env::consts::ARCH.to_string(),
        glibc: GlibcVersion::parse("2.41"),
    }
}

#[test]
fn a_binary_needing_glibc_2_99_is_refused_with_the_versions_and_a_fix() {
    let s = Scratch::new("needs");
    s.file(
        "v.map",
        "GLIBC_2.99 { global: shakedown_probe; local: *; };\n",
    );
    s.file("lib.c", "int shakedown_probe(void) { return 0; }\n");
    s.file(
        "main.c",
        "int shakedown_probe(void);\nint main(void) { return shakedown_probe(); }\n",
    );
    cc(
        &s.0,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libprobe.so",
            "lib.c",
            "-Wl,--version-script=v.map",
            "-Wl,-soname,libprobe.so",
        ],
    );
    cc(&s.0, &["-o", "needs-2.99", "main.c", "-L.", "-lprobe"]);
    let bin = s.0.join("needs-2.99");

    let info = inspect(&bin).unwrap();
    assert_eq!(
        info.linkage,
        Linkage::Glibc {
            needs: GlibcVersion::parse("2.99")
        }
    );
    let e = check_binary(&bin, "shakedown/runtime:trixie-x", &trixie(), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs-2.99") && e.contains("shakedown/runtime:trixie-x"),
        "{e}"
    );
    assert!(e.contains("glibc 2.99") && e.contains("glibc 2.41"), "{e}");
    assert!(e.contains("2.41 or older"), "{e}");
}

#[test]
fn the_test_binary_built_here_passes_and_would_not_on_an_older_glibc() {
    let me = std::env::current_exe().unwrap();
    let info = check_binary(&me, "shakedown/runtime:trixie-x", &trixie(), true).unwrap();
    let Linkage::Glibc { needs: Some(needs) } = info.linkage else {
        panic!("a Rust test binary links glibc with versioned symbols: {info:?}");
    };
    assert!(needs >= GlibcVersion(2, 2, 5), "{needs}");
    // Against a glibc just below what it needs, the same binary is refused.
    let older = Platform {
        glibc: Some(GlibcVersion(needs.0, needs.1.saturating_sub(1), 0)),
        ..trixie()
    };
    assert!(check_binary(&me, "img", &older, false).is_err());
}

#[test]
fn static_and_musl_binaries_are_recognised() {
    let s = Scratch::new("static");
    s.file("main.c", "int main(void) { return 0; }\n");
    cc(&s.0, &["-static", "-o", "static", "main.c"]);
    cc(
        &s.0,
        &[
            "-o",
            "musl",
            "main.c",
            "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1",
        ],
    );
    let static_bin = s.0.join("static");
    assert_eq!(inspect(&static_bin).unwrap().linkage, Linkage::Static);
    assert!(check_binary(&static_bin, "img", &trixie(), false).is_ok());
    let e = check_binary(&static_bin, "img", &trixie(), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("libfaketime"), "{e}");
    let musl = s.0.join("musl");
    assert_eq!(inspect(&musl).unwrap().linkage, Linkage::Musl);
    let e = check_binary(&musl, "img", &trixie(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("musl") && e.contains("crt-static"), "{e}");
}

#[test]
fn non_elf_files_are_refused_and_scripts_pass() {
    let s = Scratch::new("files");
    let text = s.file("main.rs", "fn main() {}\n");
    let e = check_binary(&text, "img", &trixie(), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not an executable") && e.contains("main.rs"),
        "{e}"
    );
    let macho = s.0.join("mac");
    std::fs::write(&macho, [0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]).unwrap();
    let e = check_binary(&macho, "img", &trixie(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("macOS") && e.contains("linux-gnu"), "{e}");
    let truncated = s.0.join("truncated");
    std::fs::write(&truncated, b"\x7fELF\x02\x01\x01").unwrap();
    assert!(check_binary(&truncated, "img", &trixie(), false).is_err());
    let missing = s.0.join("missing");
    assert!(check_binary(&missing, "img", &trixie(), false)
        .unwrap_err()
        .to_string()
        .contains("cannot be read"));
    let script = s.file("run.sh", "#!/bin/sh\nexec sleep 1\n");
    let info = check_binary(&script, "img", &trixie(), true).unwrap();
    assert_eq!(info.linkage, Linkage::Script("/bin/sh".into()));
}
