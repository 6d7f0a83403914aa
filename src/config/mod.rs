//! Loads and validates `configs/app.yaml`, then overlays `.env` and the environment.
//! Every problem is collected and reported at once, each naming its path and value; unknown
//! keys are rejected. After `load` succeeds the config is known to be valid.

mod journal;
pub mod operator;
pub mod schema;
mod shutdown;
mod strategies;
mod validate;
mod validate_strategies;
pub mod wait;

pub use journal::JournalConfig;
pub use schema::*;
pub use shutdown::ShutdownConfig;
pub use validate::validate;
pub use validate_strategies::validate_strategies;
pub use wait::WaitStrategy;

use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with a config, located by its dotted path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {} problem(s):", self.file, self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {}: {}", p.path, p.message)?;
        }
        Ok(())
    }
}

/// Kite credentials and the control API key, from `.env` and the environment. Never logged:
/// `Debug` redacts them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub kite_api_key: Option<String>,
    pub kite_api_secret: Option<String>,
    pub kite_access_token: Option<String>,
    pub kite_user_id: Option<String>,
    pub api_secret_key: Option<String>,
    /// The alert channels' credentials (ALERT_VARS).
    pub alerts: AlertSecrets,
}

/// The `.env` variables the alert channels read: tokens, the webhook, the SMTP account.
pub const ALERT_VARS: [&str; 9] = [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_CHAT_ID",
    "SLACK_WEBHOOK_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_FROM",
    "SMTP_TO",
];

/// The alert channels' variables that are set (non-blank). `Debug` names them, never their
/// values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AlertSecrets(BTreeMap<String, String>);

impl AlertSecrets {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> AlertSecrets {
        AlertSecrets(
            pairs
                .into_iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl fmt::Debug for AlertSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    pub fn has_kite_credentials(&self) -> bool {
        self.kite_api_key.is_some() && self.kite_access_token.is_some()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = |o: &Option<String>| if o.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Secrets")
            .field("kite_api_key", &r(&self.kite_api_key))
            .field("kite_api_secret", &r(&self.kite_api_secret))
            .field("kite_access_token", &r(&self.kite_access_token))
            .field("kite_user_id", &r(&self.kite_user_id))
            .field("api_secret_key", &r(&self.api_secret_key))
            .field("alerts", &self.alerts)
            .finish()
    }
}

/// Reads a `.env` file: `KEY=value` lines, optional `export `, quotes stripped, `#` comments.
pub fn parse_dotenv(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l);
        if let Some((k, v)) = l.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            out.insert(k.trim().to_string(), v.to_string());
        }
    }
    out
}

/// The environment as the app sees it: `.env` values, overridden by real environment variables.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

/// Paths in a config are relative to the directory above configs/ (the project root), or to
/// the current directory when the config lives elsewhere.
pub fn base_dir(config: &Path) -> std::path::PathBuf {
    let parent = config.parent().unwrap_or(Path::new("."));
    if parent.file_name().map(|n| n == "configs").unwrap_or(false) {
        parent
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| ".".into())
    } else {
        ".".into()
    }
}

impl Environment {
    pub fn from_process(dotenv_path: &Path) -> Environment {
        let mut vars = std::fs::read_to_string(dotenv_path)
            .map(|t| parse_dotenv(&t))
            .unwrap_or_default();
        for key in [
            "KITE_API_KEY",
            "KITE_API_SECRET",
            "KITE_ACCESS_TOKEN",
            "KITE_USER_ID",
            "APP_MODE",
            "LOG_LEVEL",
            "API_SECRET_KEY",
        ]
        .into_iter()
        .chain(ALERT_VARS)
        {
            if let Ok(v) = std::env::var(key) {
                vars.insert(key.to_string(), v);
            }
        }
        Environment { vars }
    }
    pub fn from_map(vars: BTreeMap<String, String>) -> Environment {
        Environment { vars }
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(|s| s.as_str())
            .filter(|s| !s.trim().is_empty())
    }
    pub fn secrets(&self) -> Secrets {
        let g = |k: &str| self.get(k).map(str::to_string);
        Secrets {
            kite_api_key: g("KITE_API_KEY"),
            kite_api_secret: g("KITE_API_SECRET"),
            kite_access_token: g("KITE_ACCESS_TOKEN"),
            kite_user_id: g("KITE_USER_ID"),
            api_secret_key: g("API_SECRET_KEY"),
            alerts: AlertSecrets::from_pairs(
                ALERT_VARS
                    .iter()
                    .filter_map(|k| self.get(k).map(|v| (*k, v))),
            ),
        }
    }
}

fn path_string(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." {
        "(root)".into()
    } else {
        s
    }
}

fn short(v: &Value) -> String {
    let s = serde_yaml_ng::to_string(v).unwrap_or_default();
    let s = s.trim();
    // Cut by characters, not bytes: a value in Devanagari (or any non-ASCII) must not split.
    match s.char_indices().nth(60) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_string(),
    }
}

/// Navigates to the node at `path` and removes it, so a retry takes the field's default.
/// Returns the removed value.
fn remove_at(root: &mut Value, path: &serde_path_to_error::Path) -> Option<Value> {
    use serde_path_to_error::Segment;
    let segs: Vec<&Segment> = path.iter().collect();
    let (last, parents) = segs.split_last()?;
    let mut node = root;
    for s in parents {
        node = match s {
            Segment::Map { key } => node.as_mapping_mut()?.get_mut(key.as_str())?,
            Segment::Seq { index } => node.as_sequence_mut()?.get_mut(*index)?,
            _ => return None,
        };
    }
    match last {
        Segment::Map { key } => node.as_mapping_mut()?.remove(key.as_str()),
        Segment::Seq { index } => {
            let seq = node.as_sequence_mut()?;
            (*index < seq.len()).then(|| seq.remove(*index))
        }
        _ => None,
    }
}

/// Deserializes with every type error and unknown key collected, not just the first.
fn deserialize_all(mut value: Value, problems: &mut Vec<Problem>) -> AppConfig {
    // Each failed attempt removes the offending node, so this ends within the node count.
    for _ in 0..256 {
        let mut unknown = Vec::new();
        let mut on_unknown = |p: serde_ignored::Path| unknown.push(p.to_string());
        let de = serde_ignored::Deserializer::new(value.clone(), &mut on_unknown);
        let res = serde_path_to_error::deserialize::<_, AppConfig>(de);
        match res {
            Ok(cfg) => {
                for u in unknown {
                    problems.push(Problem {
                        path: u,
                        message: "unknown key".into(),
                    });
                }
                return cfg;
            }
            Err(e) => {
                let path = e.path().clone();
                let inner = e.into_inner().to_string();
                let removed = remove_at(&mut value, &path);
                let msg = match &removed {
                    Some(v) => format!("{inner} (got `{}`)", short(v)),
                    None => inner,
                };
                problems.push(Problem {
                    path: path_string(&path),
                    message: msg,
                });
                if removed.is_none() {
                    break;
                }
            }
        }
    }
    AppConfig::default()
}

/// Parses a config text (no environment overlay). `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<AppConfig, ConfigError> {
    let fail = |problems| ConfigError {
        file: file.to_string(),
        problems,
    };
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let loc = e
            .location()
            .map(|l| format!("line {} column {}", l.line(), l.column()));
        fail(vec![Problem {
            path: loc.unwrap_or_else(|| "(yaml)".into()),
            message: format!("not valid YAML: {e}"),
        }])
    })?;
    let value = if value.is_null() {
        Value::Mapping(Default::default())
    } else {
        value
    };
    let mut problems = Vec::new();
    let cfg = deserialize_all(value, &mut problems);
    validate(&cfg, &mut problems);
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(fail(problems))
    }
}

/// Loads a config file and applies the environment overlay (APP_MODE, LOG_LEVEL).
pub fn load(path: &Path, env: &Environment) -> Result<AppConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        problems: vec![Problem {
            path: "(file)".into(),
            message: format!("cannot read: {e}"),
        }],
    })?;
    let mut cfg = parse(&text, &file)?;
    let mut problems = Vec::new();
    if let Some(m) = env.get("APP_MODE") {
        match m.to_ascii_uppercase().as_str() {
            "PAPER" => cfg.mode = Mode::Paper,
            "LIVE" => cfg.mode = Mode::Live,
            _ => problems.push(Problem {
                path: "APP_MODE (environment)".into(),
                message: format!("must be PAPER or LIVE (got `{m}`)"),
            }),
        }
    }
    if let Some(l) = env.get("LOG_LEVEL") {
        if parse_level(l).is_none() {
            problems.push(Problem {
                path: "LOG_LEVEL (environment)".into(),
                message: format!("must be DEBUG, INFO, WARNING, ERROR or CRITICAL (got `{l}`)"),
            });
        } else {
            cfg.logging.level = l.to_string();
        }
    }
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigError { file, problems })
    }
}

pub fn parse_level(s: &str) -> Option<log::LevelFilter> {
    match s.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(log::LevelFilter::Trace),
        "DEBUG" => Some(log::LevelFilter::Debug),
        "INFO" => Some(log::LevelFilter::Info),
        "WARNING" | "WARN" => Some(log::LevelFilter::Warn),
        "ERROR" | "CRITICAL" => Some(log::LevelFilter::Error),
        "OFF" => Some(log::LevelFilter::Off),
        _ => None,
    }
}

/// A path from the config, relative to the base directory unless absolute.
pub fn resolve_path(base: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_is_valid() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/app.yaml"))
                .unwrap();
        let cfg = parse(&text, "configs/app.yaml").unwrap();
        assert_eq!(cfg.mode, Mode::Paper);
        assert_eq!(cfg.risk.per_trade_risk_pct, 0.5);
        assert_eq!(cfg.control.api_port, 8000);
    }

    #[test]
    fn empty_config_uses_defaults() {
        assert_eq!(parse("", "x").unwrap(), AppConfig::default());
    }

    #[test]
    fn three_mistakes_are_all_listed() {
        let text = "mode: PAPER\nrisk:\n  per_trade_risk_pct: lots\n  max_positions: 0\nmarket:\n  eod_squareoff_tme: \"15:25\"\n";
        let e = parse(text, "bad.yaml").unwrap_err();
        assert_eq!(e.problems.len(), 3, "{e}");
        let s = e.to_string();
        assert!(
            s.contains("risk.per_trade_risk_pct") && s.contains("lots"),
            "{s}"
        );
        assert!(
            s.contains("risk.max_positions") && s.contains("got 0"),
            "{s}"
        );
        assert!(
            s.contains("market.eod_squareoff_tme") && s.contains("unknown key"),
            "{s}"
        );
    }

    #[test]
    fn two_type_errors_in_one_section_are_both_listed() {
        let e = parse("risk:\n  capital: much\n  max_positions: many\n", "x").unwrap_err();
        let paths: Vec<_> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["risk.capital", "risk.max_positions"]);
    }

    #[test]
    fn bad_enum_and_bad_time() {
        let e = parse(
            "mode: YOLO\nmarket:\n  eod_squareoff_time: \"16:00\"\n",
            "x",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("mode") && s.contains("YOLO"), "{s}");
        assert!(s.contains("market.eod_squareoff_time"), "{s}");
    }

    /// Our square-off must be on the book before the broker's own (Zerodha: equity MIS
    /// 15:20, F&O 15:25), per segment.
    #[test]
    fn square_off_after_the_brokers_cut_off_is_refused() {
        let e = parse(
            "market:\n  eod_squareoff_time: \"15:20\"\n  fo_squareoff_time: \"15:26\"\n",
            "x",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("market.eod_squareoff_time")
                && s.contains("before the broker's equity MIS square-off at 15:20:00"),
            "{s}"
        );
        assert!(
            s.contains("market.fo_squareoff_time")
                && s.contains("before the broker's F&O square-off at 15:25:00"),
            "{s}"
        );
        let e = parse("market:\n  no_entries_before_squareoff_min: 400\n", "x").unwrap_err();
        assert!(
            e.to_string()
                .contains("market.no_entries_before_squareoff_min"),
            "{e}"
        );
        assert!(parse("market:\n  eod_squareoff_time: \"15:19\"\n", "x").is_ok());
    }

    #[test]
    fn a_long_non_ascii_value_is_cut_by_characters() {
        // One ASCII byte first, so byte 60 falls inside a three-byte character.
        let long = format!("a{}", "निफ्टी".repeat(40));
        let e = parse(&format!("risk:\n  capital: \"{long}\"\n"), "x").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("risk.capital") && s.contains("..."), "{s}");
    }

    #[test]
    fn yaml_syntax_error_has_location() {
        let e = parse("risk: [unclosed\n", "x").unwrap_err();
        assert!(e.problems[0].path.contains("line"), "{e}");
    }

    #[test]
    fn env_overlay_and_secrets_redacted() {
        let dir = std::env::temp_dir().join(format!("aitrapp-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("app.yaml");
        std::fs::write(&f, "mode: PAPER\n").unwrap();
        let env = Environment::from_map(parse_dotenv(
            "export APP_MODE=live\nLOG_LEVEL='DEBUG'\nKITE_API_KEY=\"k\"\nKITE_ACCESS_TOKEN=tok123\n# c\n",
        ));
        let cfg = load(&f, &env).unwrap();
        assert_eq!(cfg.mode, Mode::Live);
        assert_eq!(cfg.logging.level, "DEBUG");
        let s = env.secrets();
        assert!(s.has_kite_credentials());
        assert!(!format!("{s:?}").contains("tok123"));
        let bad = Environment::from_map(parse_dotenv("APP_MODE=maybe\n"));
        assert!(load(&f, &bad).unwrap_err().to_string().contains("APP_MODE"));
    }
}
