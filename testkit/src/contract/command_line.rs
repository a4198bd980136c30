//! The command line: bad flags, help and version, a port in use.

use std::net::TcpListener;

use crate::run;

pub fn bad_flags_exit_2_with_one_line(binary: &str) {
    for args in [
        &["--bogus"][..],
        &["--port", "x"],
        &["--port", "65536"],
        &["--sleep", "-1"],
        &["--max-sleep", "nan"],
        &["--host", "999.1.1.1"],
        &["--sleep", "9", "--max-sleep", "1"],
        &["--database", "nope://"],
        &["--db-wait", "0"],
        &["--db-pool", "0"],
    ] {
        let output = run(binary, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

pub fn help_and_version_work(binary: &str) {
    let help = run(binary, &["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--host <ADDR>",
        "--port <N>",
        "-p",
        "--sleep <SECONDS>",
        "--max-sleep",
    ] {
        assert!(text.contains(flag), "{flag} missing from {text}");
    }
    let version = run(binary, &["--version"]);
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

pub fn a_port_in_use_is_one_clear_line(binary: &str) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let output = run(binary, &["--port", &addr.port().to_string()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains(&addr.to_string()),
        "names the address: {stderr:?}"
    );
}
