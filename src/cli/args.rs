//! The command line as clap parses it: every subcommand and its flags, each with its
//! one-line help.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "aitrapp",
    version,
    about = "Intraday trading for NSE through Zerodha Kite Connect"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the trading system (PAPER by default, on the synthetic market without credentials).
    Run {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// PAPER downgrades a LIVE config; LIVE must match `mode: LIVE` in the config.
        #[arg(long, value_parser = ["PAPER", "LIVE"])]
        mode: Option<String>,
        /// For unattended LIVE starts: must be exactly "CONFIRM LIVE TRADING".
        #[arg(long)]
        confirm_live: Option<String>,
    },
    /// Validate a config file: prints OK or every problem (exit 0 or 2).
    CheckConfig {
        #[arg(default_value = "configs/app.yaml")]
        path: PathBuf,
    },
    /// Print every tick of a recorded frame file as one JSON object per line.
    Decode { file: PathBuf },
    /// Indicator values over candles, one JSON line each, to hold against a charting platform.
    ///
    /// Candles in Kite's historical format (CSV `date,open,high,low,close,volume` or the
    /// historical API's JSON): one JSON object per candle, null until warmed up, periods from
    /// the config's `indicators` section.
    Indicators {
        #[arg(long)]
        candles: PathBuf,
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
    },
    /// Record the Kite ticker to a file (record format) until --duration, SIGINT or SIGTERM.
    Record {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Instrument tokens, comma separated (default: the universe plus the indices).
        #[arg(long, value_delimiter = ',')]
        tokens: Vec<u32>,
        /// ltp | quote | full (default: websocket.mode).
        #[arg(long, value_parser = ["ltp", "quote", "full"])]
        mode: Option<String>,
        /// How long: 90s, 10m, 2h (plain numbers are seconds).
        #[arg(long)]
        duration: Option<String>,
    },
    /// Log in to Kite for the day's access token (or `--check` the current one).
    ///
    /// Prints the login URL, takes the request_token (argument or a one-shot redirect
    /// listener on 127.0.0.1), stores KITE_ACCESS_TOKEN in .env (mode 0600). `--check`
    /// validates the current token instead (exit 0 valid, 1 not).
    Login {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// The request_token from the redirect URL.
        #[arg(long)]
        request_token: Option<String>,
        /// Where the redirect listener waits (the app's registered redirect URL must point here).
        #[arg(long, default_value = "127.0.0.1:5010")]
        listen: String,
        /// Seconds to wait for the redirect.
        #[arg(long, default_value_t = 300)]
        wait_secs: u64,
        #[arg(long)]
        check: bool,
    },
    /// Charges of one intraday round trip, line by line, in rupees.
    ///
    /// Buy then sell `qty` by the dated tables of configs/charges.yaml: a table, or one JSON
    /// object with --json.
    Charges {
        #[arg(long, value_parser = ["intraday", "futures", "options"])]
        segment: String,
        /// Buy price in rupees (up to 2 decimals).
        #[arg(long)]
        buy: String,
        /// Sell price in rupees (up to 2 decimals).
        #[arg(long)]
        sell: String,
        /// Quantity in units (shares, or lots x lot size).
        #[arg(long)]
        qty: i64,
        /// Trade date (yyyy-mm-dd); default today (IST). Picks the table in force then.
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        json: bool,
        /// The charges file; default risk.charges_file of --config.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
    },
    /// Export a day's (or a range's) trades from the journals as CSV for tax records.
    ///
    /// Default today. Gross P&L, each charge line, net P&L, strategy, exit reason, order
    /// ids and tags.
    Export {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// One trading day (yyyy-mm-dd).
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// The CSV file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Back up the journals and configs (never .env) into one checked file, even while running.
    ///
    /// While the engine runs, its journal is fsynced to a known length first.
    Backup {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup's journals (refused while the engine runs or on a bad checksum).
    ///
    /// The journals replaced are moved aside.
    Restore {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// Restore the backup's config files too (the current ones are kept beside them).
        #[arg(long)]
        configs: bool,
        file: PathBuf,
    },
    /// Print the running system's memory-mapped snapshot as JSON (works from any process).
    Snapshot {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// Snapshot file; defaults to control.snapshot_path of the config.
        #[arg(long)]
        path: Option<PathBuf>,
    },
    /// Send one test message to each configured alert channel and say which worked.
    ///
    /// Telegram, Slack and email as `.env` and the config's `alerts:` section set them up
    /// (alerts.enabled need not be on yet). Exit 0 when every configured channel took the
    /// message, 1 when one failed or none is configured.
    AlertTest {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
    },
    /// Run the pre-flight checklist: a green or red line per check, exit 0 or 1.
    ///
    /// Checks .env, the Kite token, config, disk, clock, holidays, ban list, instruments,
    /// journal, ports, CPU mask, SEBI's order caps and alerts. A table with a hint under each red line (or one JSON object with --json). Exit 0 when
    /// nothing failed and every check could run, 1 otherwise. `make doctor` runs it.
    Doctor {
        #[arg(long, default_value = "configs/app.yaml")]
        config: PathBuf,
        /// One JSON object: {"ok": bool, "checks": [{name, verdict, detail, hint}]}.
        #[arg(long)]
        json: bool,
    },
}
