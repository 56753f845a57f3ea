//! The real binary's configuration: every setting listed with its default, and a bad value stops
//! it before it listens, with one line naming the variable.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chinwag() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chinwag"));
    command
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

#[test]
fn help_lists_every_setting_its_variable_and_its_default() {
    let output = chinwag()
        .arg("--help")
        .output()
        .expect("run chinwag --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "LEPTOS_SITE_ADDR",
        "CHINWAG_DATA_DIR",
        "DATABASE_URL",
        "CHINWAG_ALLOWED_ORIGINS",
        "CHINWAG_SECURE_COOKIES",
        "CHINWAG_METRICS_ADDR",
        "CHINWAG_MAX_FRAME_BYTES",
        "CHINWAG_RATE_PER_SEC",
        "CHINWAG_RATE_BURST",
        "CHINWAG_SESSIONS_PER_MINUTE",
        "CHINWAG_ROOMS_PER_MINUTE",
        "CHINWAG_MAX_ROOMS",
        "CHINWAG_MAX_CONNECTIONS_PER_IP",
        "CHINWAG_HEADER_TIMEOUT",
        "CHINWAG_IDLE_TIMEOUT",
        "CHINWAG_NICK_HOLD",
        "CHINWAG_SESSION_TTL",
    ] {
        assert!(
            help.contains(&format!("env: {variable}")),
            "{variable} in:\n{help}"
        );
    }
    assert!(help.contains("[default: 65536]"), "{help}");
    let version = chinwag()
        .arg("--version")
        .output()
        .expect("run chinwag --version");
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("chinwag 0."));
}

#[test]
fn a_bad_setting_stops_the_server_with_one_line_naming_it() {
    let dir = crate::common::TempDir::new("config");
    for (variable, value) in [
        ("CHINWAG_RATE_BURST", "nan"),
        ("CHINWAG_RATE_PER_SEC", "0"),
        ("CHINWAG_MAX_FRAME_BYTES", "16384"),
        ("CHINWAG_MAX_CONNECTIONS", "lots"),
        ("CHINWAG_IDLE_TIMEOUT", "-5s"),
    ] {
        let started = Instant::now();
        let output = chinwag()
            .env("CHINWAG_DATA_DIR", &dir.0)
            .env(variable, value)
            .output()
            .expect("run chinwag");
        assert!(!output.status.success(), "{variable}={value} was accepted");
        assert!(started.elapsed() < Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            1,
            "{variable}={value}: one line, got {stderr:?}"
        );
        assert!(
            lines[0].contains(variable),
            "{variable}={value}: {stderr:?}"
        );
        assert!(output.stdout.is_empty(), "it never listened");
    }
}
