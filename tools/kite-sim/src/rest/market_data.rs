//! The market-data endpoints: `/quote`, `/quote/ltp` and historical candles, answered from
//! the simulated market as Kite shapes them.

use super::*;

impl Api {
    /// The `i=EXCHANGE:SYMBOL` keys of a quote request that name an instrument with data;
    /// the others are simply absent from the answer, as on Kite.
    fn quoted<'a>(
        &'a self,
        q: &'a [(String, String)],
    ) -> impl Iterator<
        Item = (
            &'a String,
            &'a aitrapp::domain::Instrument,
            aitrapp::domain::Tick,
        ),
    > + 'a {
        q.iter().filter(|(k, _)| k == "i").filter_map(|(_, key)| {
            let (ex, sym) = key.split_once(':')?;
            let inst = self.market.master.find(ex, sym)?;
            let t = self.market.last_tick(inst.token)?;
            Some((key, inst, t))
        })
    }

    pub(super) fn quote(&self, q: &[(String, String)]) -> Reply {
        let mut data = serde_json::Map::new();
        let band_pct = self
            .market
            .exchange
            .lock()
            .map(|ex| ex.price_band_pct)
            .unwrap_or(20.0);
        for (key, inst, t) in self.quoted(q) {
            let d = inst.divisor();
            let r = |v: i32| rupees(v as i64, d);
            // The limits the simulator's exchange enforces (the paper broker's band).
            let band = aitrapp::exec::fill_model::PriceBand::around(
                inst.last_price.0,
                band_pct,
                inst.tick_size.0,
            );
            let limit = |f: fn(&aitrapp::exec::fill_model::PriceBand) -> i64| {
                band.map_or(0.0, |b| rupees(f(&b), d))
            };
            let depth = |side: &[aitrapp::domain::DepthLevel; 5]| {
                side.iter()
                    .map(|l| json!({"price": r(l.price), "quantity": l.quantity, "orders": l.orders}))
                    .collect::<Vec<_>>()
            };
            data.insert(
                key.clone(),
                json!({
                    // Kite writes both as `yyyy-mm-dd hh:mm:ss` strings (IST); the official
                    // client parses 19-character strings and fails on integers.
                    "instrument_token": inst.token.0,
                    "timestamp": aitrapp::clock::kite_datetime(t.exchange_timestamp as i64),
                    "last_trade_time": if t.last_trade_time > 0 {
                        Value::String(aitrapp::clock::kite_datetime(t.last_trade_time as i64))
                    } else {
                        Value::Null
                    },
                    "last_price": r(t.last_price),
                    "last_quantity": t.last_traded_quantity, "buy_quantity": t.total_buy_quantity,
                    "sell_quantity": t.total_sell_quantity, "volume": t.volume_traded,
                    "average_price": r(t.average_traded_price), "oi": t.oi,
                    "oi_day_high": t.oi_day_high, "oi_day_low": t.oi_day_low,
                    "net_change": r(t.last_price - t.ohlc.close),
                    "lower_circuit_limit": limit(|b| b.lower), "upper_circuit_limit": limit(|b| b.upper),
                    "ohlc": {"open": r(t.ohlc.open), "high": r(t.ohlc.high), "low": r(t.ohlc.low), "close": r(t.ohlc.close)},
                    "depth": {"buy": depth(&t.buy), "sell": depth(&t.sell)},
                }),
            );
        }
        ok(Value::Object(data))
    }

    pub(super) fn historical(&self, token: &str, interval: &str, q: &[(String, String)]) -> Reply {
        let minutes = match interval {
            "minute" => 1,
            "3minute" => 3,
            "5minute" => 5,
            "10minute" => 10,
            "15minute" => 15,
            "30minute" => 30,
            "60minute" => 60,
            "day" => 1440,
            other => {
                return err(
                    400,
                    "InputException",
                    &format!("Invalid interval `{other}`"),
                )
            }
        };
        let Ok(token) = token.parse::<u32>() else {
            return err(400, "InputException", "Invalid instrument token");
        };
        let Some(inst) = self.market.master.get(aitrapp::domain::Token(token)) else {
            return err(400, "InputException", "Invalid instrument token");
        };
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let when = |k: &str| -> Option<u32> {
            let v = get(k)?;
            let (date, time) = v.split_once(' ').unwrap_or((v, "00:00:00"));
            let d = aitrapp::domain::Date::parse(date)?;
            let hm = aitrapp::clock::TimeOfDay::parse(time.get(..5)?)?;
            Some(aitrapp::clock::ist_epoch(d, hm) as u32)
        };
        let (Some(from), Some(to)) = (when("from"), when("to")) else {
            return err(
                400,
                "InputException",
                "`from` and `to` must be yyyy-mm-dd hh:mm:ss",
            );
        };
        let with_oi = get("oi") == Some("1");
        let d = inst.divisor();
        let candles: Vec<Value> = self
            .market
            .candles(token, minutes, from, to)
            .iter()
            .map(|c| {
                let s = c.minute as i64 + 19_800;
                let (y, m, dd) = aitrapp::clock::civil_from_days(s.div_euclid(86_400));
                let sec = s.rem_euclid(86_400);
                let ts = format!(
                    "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:00+0530",
                    sec / 3600,
                    sec / 60 % 60
                );
                let mut row = vec![
                    json!(ts),
                    json!(rupees(c.open, d)),
                    json!(rupees(c.high, d)),
                    json!(rupees(c.low, d)),
                    json!(rupees(c.close, d)),
                    json!(c.day_volume),
                ];
                if with_oi {
                    row.push(json!(c.oi));
                }
                Value::Array(row)
            })
            .collect();
        ok(json!({"candles": candles}))
    }

    pub(super) fn ltp(&self, q: &[(String, String)]) -> Reply {
        let mut data = serde_json::Map::new();
        for (key, inst, t) in self.quoted(q) {
            data.insert(
                key.clone(),
                json!({"instrument_token": inst.token.0,
                       "last_price": rupees(t.last_price as i64, inst.divisor())}),
            );
        }
        ok(Value::Object(data))
    }
}
