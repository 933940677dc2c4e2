//! The report pages in a real browser: headless Chromium (Debian's `chromium` package) renders a
//! run's pages from a hand-made history; the screenshots must not be blank and the DOM must hold
//! the timeline's lanes, bars, shaded fault intervals and marked anomalies.
//!
//! `SHAKEDOWN_SCREENSHOTS=docs` keeps the index page's screenshot there (`docs/report-index.png`;
//! the run page's in `docs/` is of a real run, see CONTRIBUTING.md).

mod chromium;
mod sample;

use std::path::Path;

use chromium::Chromium;

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

#[test]
fn the_run_page_shows_lanes_bars_faults_and_anomalies_in_chromium() {
    let dir = sample::write_report("run-page");
    let chromium = Chromium::find();
    let page = dir.join("replica_lag/naive/index.html");
    let dom = chromium.dom(&page);
    // Four client processes, one lane each; one bar per call; two fault windows, each shaded in
    // the timeline and both charts.
    assert_eq!(count(&dom, "<g class=\"lane\""), 4, "lanes");
    assert_eq!(count(&dom, "class=\"op op-"), sample::CALLS, "bars");
    assert_eq!(
        count(&dom, "<rect class=\"fault\""),
        2 * 3,
        "fault intervals"
    );
    assert!(
        count(&dom, "anomalous-op") >= 2,
        "anomalous operations marked"
    );
    assert!(
        dom.contains("NOT caught") || dom.contains(">caught<"),
        "{dom}"
    );
    assert!(
        dom.contains("stale read after own write: 16"),
        "anomaly heading"
    );
    assert!(dom.contains("replica apply delay on pg-replica-0 (delay_ms 3000) from"));
    let shot = chromium.screenshot(&page, "run-page");
    assert_not_blank(&shot);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_index_page_lists_every_run_with_its_outcome_in_chromium() {
    let dir = sample::write_report("index-page");
    let chromium = Chromium::find();
    let page = dir.join("index.html");
    let dom = chromium.dom(&page);
    assert_eq!(count(&dom, "<tr><td><a href="), 3, "{dom}");
    for outcome in [">caught<", ">handled<", ">error<"] {
        assert!(dom.contains(outcome), "{outcome} missing:\n{dom}");
    }
    let shot = chromium.screenshot(&page, "index-page");
    assert_not_blank(&shot);
    keep(&shot, "report-index.png");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A screenshot is not blank: a good share of its pixels are not the background, in several
/// colours (text, the verdict box, the bars).
fn assert_not_blank(png_path: &Path) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).expect("screenshot written"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let background = pixels[0];
    let other = pixels.iter().filter(|p| p[..3] != background[..3]).count();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().map(|p| &p[..3]).collect();
    assert!(
        other * 50 > pixels.len(),
        "{}: only {other} of {} pixels differ from the background",
        png_path.display(),
        pixels.len()
    );
    assert!(
        colours.len() > 20,
        "{}: {} colours",
        png_path.display(),
        colours.len()
    );
}

fn keep(shot: &Path, name: &str) {
    if let Ok(dir) = std::env::var("SHAKEDOWN_SCREENSHOTS") {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(shot, dir.join(name)).unwrap();
    }
}
