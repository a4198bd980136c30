//! `cargo run -p pgcluster`: a throwaway PostgreSQL cluster for trying `/query` by hand. Prints
//! the URL to pass as `--database`, and stops and removes the cluster on Ctrl-C.

use std::process::ExitCode;
use std::sync::mpsc;

fn main() -> ExitCode {
    let max_connections = match std::env::args().nth(1).map(|text| text.parse()) {
        None => 100,
        Some(Ok(count)) if count > 0 => count,
        Some(_) => {
            eprintln!("usage: pgcluster [MAX_CONNECTIONS] (a whole number, 100 by default)");
            return ExitCode::from(2);
        }
    };
    let (stop, stopped) = mpsc::channel();
    if let Err(error) = ctrlc::set_handler(move || {
        let _ = stop.send(());
    }) {
        eprintln!("pgcluster: error: cannot handle Ctrl-C: {error}");
        return ExitCode::FAILURE;
    }
    let cluster = match pgcluster::Cluster::start(max_connections) {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("pgcluster: error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", cluster.url());
    eprintln!(
        "pgcluster: a throwaway cluster (max_connections {max_connections}); pass it as \
         --database; Ctrl-C stops and removes it"
    );
    let _ = stopped.recv();
    drop(cluster);
    eprintln!("pgcluster: stopped and removed");
    ExitCode::SUCCESS
}
