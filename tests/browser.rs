//! The test browser itself (support/browser.rs): headless Chromium opens a `file://` page,
//! runs its script, and the helpers read what a person would see.

use std::time::Duration;

use copili_e2e::{artifact_path, file_url, Browser};

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>browser test</title></head>
<body><h1>Static</h1>
<details><summary>Closed</summary><p class="inside">hidden text</p></details>
<script>
setTimeout(() => {
  const item = document.createElement("p");
  item.className = "added";
  item.textContent = "added by the script";
  document.body.appendChild(item);
}, 100);
</script></body></html>"#;

#[test]
fn a_file_page_runs_its_script_and_the_helpers_read_it_offline() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("page.html");
    std::fs::write(&path, PAGE).expect("write the page");

    let browser = Browser::launch_offline();
    let page = browser.open(&file_url(&path));
    page.wait_for("p.added", Duration::from_secs(10));
    assert_eq!(page.texts("p.added"), ["added by the script"]);
    assert_eq!(page.texts("h1"), ["Static"]);
    // innerText is what is rendered: a closed <details> shows its summary only.
    assert_eq!(page.texts("details"), ["Closed"]);
    assert_eq!(page.eval("document.title"), serde_json::json!("browser test"));
    assert_eq!(page.eval("Promise.resolve(6 * 7)"), serde_json::json!(42));

    let screenshot = artifact_path("browser-test.png");
    page.screenshot(&screenshot);
    let png = std::fs::read(&screenshot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG: {}", screenshot.display());

    assert_eq!(page.requests(), [file_url(&path)], "the page's own file is its only request");
    assert!(page.network_requests().is_empty(), "{:?}", page.network_requests());
}

#[test]
fn an_offline_browser_refuses_the_network_and_tells_what_was_attempted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("fetching.html");
    let page = r#"<!doctype html><body><img src="http://copili.invalid/pixel.png">
<script>
fetch("http://example.com/").then(() => document.title = "loaded", () => document.title = "refused");
</script></body>"#;
    std::fs::write(&path, page).expect("write the page");

    let browser = Browser::launch_offline();
    let page = browser.open(&file_url(&path));
    let start = std::time::Instant::now();
    while page.eval("document.title") == serde_json::json!("") {
        assert!(start.elapsed() < Duration::from_secs(20), "the fetch neither failed nor succeeded");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(page.eval("document.title"), serde_json::json!("refused"));
    let attempted = page.network_requests();
    assert!(attempted.iter().any(|url| url.starts_with("http://copili.invalid/")), "{attempted:?}");
    assert!(attempted.iter().any(|url| url.starts_with("http://example.com/")), "{attempted:?}");
}
