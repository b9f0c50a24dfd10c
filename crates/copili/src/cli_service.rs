//! The command line of service mode, `copili status` and the dashboard: clap definitions only
//! (re-exported by [`crate::cli`]).

use std::path::PathBuf;

use clap::Args;

use crate::cli::PathParser;

/// The token of the dashboard (`copili ui`, `copili service --ui`).
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The token every request must carry (`Authorization: Bearer TOKEN`, or open
    /// `/?token=TOKEN` once); needed on an address that is not loopback. Other local users can
    /// read a command line: prefer --token-file or COPILI_UI_TOKEN.
    #[arg(long, env = "COPILI_UI_TOKEN", hide_env_values = true, value_name = "TOKEN", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// Read the token from this file (its first line).
    #[arg(long, value_name = "FILE", value_parser = PathParser)]
    pub token_file: Option<PathBuf>,
}

pub(crate) const UI_EXAMPLES: &str = "Examples:
  copili ui                                     # .copili/ on http://127.0.0.1:8090/
  copili ui --state-dir /srv/pipelines/.copili --state-dir ~/other/.copili
  copili ui --listen 0.0.0.0:8090 --token-file /etc/copili/ui-token
  copili service nightly.yaml --every 10m --ui 127.0.0.1:8090

Exit codes: 0 stopped by SIGTERM or Ctrl-C, 2 usage (a non-loopback address without a token).";

/// The options of `copili service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The default schedule.
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// Do not run the whole pipeline first: go straight to the schedule (`catch_up` applies).
    #[arg(long)]
    pub no_initial_run: bool,
    /// Also serve the dashboard of this pipeline (as `copili ui`) on this address.
    #[arg(long, value_name = "ADDR")]
    pub ui: Option<std::net::SocketAddr>,
    /// Who may look at the dashboard.
    #[command(flatten)]
    pub token: TokenArgs,
}

/// The default schedule of service containers (`copili service`, `copili status`).
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Rerun service containers at this interval (e.g. `10m`), unless they have a `schedule`.
    #[arg(long, value_name = "DURATION", conflicts_with = "cron")]
    pub every: Option<String>,
    /// Rerun service containers when this cron expression matches (e.g. `*/10 * * * *`), unless
    /// they have a `schedule`.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// The time zone of schedules without their own `timezone` (default: local time).
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
}

/// The schedule `--every` or `--cron` names (daily at 00:00 without either), or what is wrong.
pub fn default_schedule(every: Option<&str>, cron: Option<&str>) -> Result<copili_schedule::Schedule, String> {
    use copili_schedule::Schedule;
    match (every, cron) {
        (Some(every), _) => Schedule::parse(&format!("every {every}")).map_err(|e| format!("--every {every}: {e}")),
        (None, Some(cron)) => match Schedule::parse(cron) {
            Ok(schedule @ Schedule::Cron(_)) => Ok(schedule),
            Ok(_) => Err(format!("--cron {cron}: not a cron expression")),
            Err(e) => Err(format!("--cron {cron}: {e}")),
        },
        (None, None) => Ok(Schedule::default()),
    }
}

pub(crate) const SERVICE_EXAMPLES: &str = "Examples:
  copili service pipeline.yaml                      # then daily at 00:00 local time
  copili service pipeline.yaml --every 10m
  copili service pipeline.yaml --cron '30 3 * * *' --timezone Europe/Berlin
  copili status pipeline.yaml                       # last runs, next due times";
