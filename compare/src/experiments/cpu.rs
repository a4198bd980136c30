//! The experiments whose wait is CPU work: it holds a thread however it is waited for, and
//! takes as many rounds as the cores make it.

use std::time::Duration;

use crate::predictions::{predicted, Wait};
use crate::role::Role;
use crate::scenario::{machine_cores, seconds_text, Lane, Planned, Prediction, Scenario, COMPUTE};
use crate::traffic::Design;

/// `/compute` at 0 s and `/nosleep` 0.4 of the way in, on both servers: computation holds the
/// event loop's thread exactly as a blocking sleep does.
pub fn compute(scale: f64) -> Scenario {
    let cpu = COMPUTE.mul_f64(scale);
    Scenario {
        name: "compute".to_owned(),
        description: format!(
            "/compute ({} of CPU) at 0 s, /nosleep at {} s",
            seconds_text(cpu),
            cpu.mul_f64(0.4).as_secs_f64()
        ),
        requests: vec![
            Planned::waiting("/compute", cpu, Duration::ZERO),
            Planned::nosleep(cpu.mul_f64(0.4)),
        ],
        lanes: vec![
            Lane::new(Role::Sync, predicted(Wait::Cpu, Design::OneThread)),
            Lane::new(Role::Async, predicted(Wait::Cpu, Design::EventLoop)),
        ],
        apart: true,
    }
}

/// Four `/compute` at once on `sync-server --threads 4`, and four `/offload?work=compute` on
/// async-server: CPU work scales with cores, not with threads or tasks.
pub fn cores(scale: f64) -> Scenario {
    let cpu = COMPUTE.mul_f64(scale);
    let offloaded = Planned {
        path: format!("/offload?seconds={}&work=compute", cpu.as_secs_f64()),
        at: Duration::ZERO,
        work: cpu,
    };
    let cores = machine_cores();
    Scenario {
        name: "cores".to_owned(),
        description: format!(
            "4 /compute ({} of CPU each) at once on sync-server --threads 4, then 4 \
             /offload?work=compute on async-server; {cores} cores",
            seconds_text(cpu)
        ),
        requests: vec![Planned::waiting("/compute", cpu, Duration::ZERO); 4],
        lanes: vec![
            Lane::new(
                Role::SyncThreads,
                Prediction::rounds(4, cores, cpu, "cores"),
            ),
            Lane::new(Role::Async, Prediction::rounds(4, cores, cpu, "cores")),
        ],
        apart: true,
    }
    .with_requests_for(Role::Async, vec![offloaded; 4])
}

/// More CPU work offloaded than there are cores, and a `/nosleep` now and then: the runtime
/// thread is free, but it must win a core from the pool's threads to answer.
pub fn crowded(scale: f64) -> Scenario {
    let cpu = COMPUTE.mul_f64(scale);
    let cores = machine_cores();
    let work = Planned {
        path: format!("/offload?seconds={}&work=compute", cpu.as_secs_f64()),
        at: Duration::ZERO,
        work: cpu,
    };
    let mut requests = vec![work; 2 * cores];
    requests.extend((1..=4).map(|n| Planned::nosleep(cpu.mul_f64(0.2 * f64::from(n)))));
    Scenario {
        name: "crowded".to_owned(),
        description: format!(
            "{} /offload?work=compute ({} of CPU each) at 0 s on {cores} cores, and /nosleep at \
             0.2, 0.4, 0.6 and 0.8 of the way",
            2 * cores,
            seconds_text(cpu)
        ),
        requests,
        lanes: vec![Lane::new(
            Role::Async,
            Prediction {
                wall: Some(cpu * 2),
                ..Prediction::blocked(format!(
                "{} CPU-bound pool threads share {cores} cores: 2 rounds; the runtime thread is \
                 free, and answers a /nosleep once the kernel gives it a core",
                2 * cores
            ))
            },
        )],
        apart: true,
    }
}
