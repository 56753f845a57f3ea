//! Settings: defaults, refusals in one line, units, the help.

use super::*;

fn settings(args: &[&str]) -> Result<Settings, clap::Error> {
    let mut argv = vec!["chinwag"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).map(|cli| cli.settings)
}

#[test]
fn the_defaults_are_the_servers_defaults() {
    let config = settings(&[]).expect("parses").into_config().expect("valid");
    let defaults = ServerConfig::with_store(StoreConfig::Sqlite(PathBuf::from("data/chinwag.db")));
    assert_eq!(
        format!("{:?}", config.limits),
        format!("{:?}", defaults.limits)
    );
    assert_eq!(format!("{:?}", config.hub), format!("{:?}", defaults.hub));
    assert_eq!(
        format!("{:?}", config.sessions),
        format!("{:?}", defaults.sessions)
    );
    assert_eq!(config.store, defaults.store);
}

#[test]
fn a_bad_value_is_refused_with_its_variable_named() {
    for (args, name) in [
        (
            &["--rate-burst", "nan"][..],
            "CHINWAG_RATE_BURST (--rate-burst)",
        ),
        (
            &["--rate-per-sec", "0"],
            "CHINWAG_RATE_PER_SEC (--rate-per-sec)",
        ),
        (
            &["--rate-per-sec=-3"],
            "CHINWAG_RATE_PER_SEC (--rate-per-sec)",
        ),
        (
            &["--rate-burst", "inf"],
            "CHINWAG_RATE_BURST (--rate-burst)",
        ),
        (
            &["--max-frame-bytes", "16384"],
            "CHINWAG_MAX_FRAME_BYTES (--max-frame-bytes)",
        ),
        (&["--max-rooms", "0"], "CHINWAG_MAX_ROOMS (--max-rooms)"),
        (
            &["--idle-timeout", "10s"],
            "CHINWAG_IDLE_TIMEOUT (--idle-timeout)",
        ),
        (
            &["--database-url", "mysql://x"],
            "DATABASE_URL (--database-url)",
        ),
    ] {
        let err = settings(args)
            .expect("parses")
            .into_config()
            .expect_err(&format!("{args:?}"));
        assert_eq!(err.name, name, "{args:?}: {err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
}

#[test]
fn an_unparseable_value_is_one_line_naming_the_variable() {
    for (args, name) in [
        (
            &["--max-connections", "lots"][..],
            "CHINWAG_MAX_CONNECTIONS (--max-connections)",
        ),
        (
            &["--ping-interval", "0s"],
            "CHINWAG_PING_INTERVAL (--ping-interval)",
        ),
        (
            &["--leave-grace", "3 weeks"],
            "CHINWAG_LEAVE_GRACE (--leave-grace)",
        ),
    ] {
        let err = from_clap(&settings(args).expect_err(&format!("{args:?}")));
        assert_eq!(err.name, name, "{args:?}: {err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
}

#[test]
fn durations_take_units() {
    assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(duration("30"), Ok(Duration::from_secs(30)));
    assert_eq!(duration("15m"), Ok(Duration::from_secs(900)));
    assert_eq!(duration("2h"), Ok(Duration::from_secs(7200)));
    assert_eq!(duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
    assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
    for bad in ["", "s", "0", "-1s", "nan", "1y", "1e400s"] {
        assert!(duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn help_lists_every_setting_with_its_variable_and_default() {
    let help = Cli::command().render_long_help().to_string();
    for arg in Cli::command().get_arguments() {
        if let Some(env) = arg.get_env() {
            let env = env.to_string_lossy();
            assert!(help.contains(&format!("env: {env}")), "{env} in --help");
        }
    }
    assert!(help.contains("[default: 20]"), "{help}");
}
