//! A real browser for tests: Debian's Chromium, headless, loads a page and returns its
//! DOM once the page's scripts (and frames) are done. `make setup` installs it.

use std::time::Duration;

use anyhow::Context as _;

/// Where Chromium is: `MIRAI_CHROMIUM`, else `/usr/bin/chromium`.
pub fn chromium() -> String {
    std::env::var("MIRAI_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Loads `url` in headless Chromium (a fresh profile, no network beyond what the page
/// asks for) and returns the top document's DOM after `budget` of virtual time, in which
/// the page's timers and frames run.
pub async fn dump_dom(url: &str, budget: Duration) -> anyhow::Result<String> {
    let profile = std::env::temp_dir().join(format!("mirai-chromium-{}", uuid::Uuid::now_v7()));
    let run = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--virtual-time-budget={}", budget.as_millis()))
        .arg("--dump-dom")
        .arg(url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run).await.context("chromium took over 90 s")?;
    let _ = std::fs::remove_dir_all(&profile);
    let out = out.with_context(|| format!("starting {} (make setup installs it)", chromium()))?;
    anyhow::ensure!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
