//! One log line per hot event: what the hot threads hand the logger thread, written through
//! `log` with its structured fields (the JSON file's keys) and a readable message.

use crate::domain::{format_rupees, InstrumentMaster, Token};
use crate::telemetry::hot_log::HotEvent;

/// An instrument's trading symbol and price divisor (the token itself when unknown).
pub(crate) fn sym(master: &InstrumentMaster, t: Token) -> (String, i64) {
    match master.get(t) {
        Some(i) => (i.tradingsymbol.as_str().to_string(), i.divisor()),
        None => (t.0.to_string(), 100),
    }
}

/// Writes one hot event through `log`. Runs on the logger thread only.
pub fn write_hot_event(master: &InstrumentMaster, ev: &HotEvent) {
    match *ev {
        HotEvent::Signal { signal } => {
            let crate::domain::Signal {
                token,
                strategy,
                side,
                entry,
                stop,
                target,
                score,
                spread,
                ..
            } = signal;
            let (s, d) = sym(master, token);
            let f = |bp: u16| bp as f64 / 10_000.0;
            let legs = spread.map(|sp| {
                let (sell, _) = sym(master, sp.sell_token);
                (sp, sell)
            });
            let (kind, sell_symbol, max_loss, max_profit) = match &legs {
                Some((sp, sell)) => (
                    sp.kind.as_str(),
                    sell.as_str(),
                    format_rupees(sp.max_loss.0, d),
                    format_rupees(sp.max_profit.0, d),
                ),
                None => ("OUTRIGHT", "", String::new(), String::new()),
            };
            let legs_text = match &legs {
                Some((sp, sell)) => format!(
                    " {}: buy {s} @ {} / sell {sell} @ {}, max loss {max_loss}, max profit {max_profit} per unit",
                    sp.kind.as_str(),
                    format_rupees(sp.buy_price.0, d),
                    format_rupees(sp.sell_price.0, d)
                ),
                None => String::new(),
            };
            log::info!(target: "strategy", symbol = s.as_str(), strategy = strategy.as_str(), side = side.as_str(),
                entry = format_rupees(entry.0, d).as_str(), stop = format_rupees(stop.0, d).as_str(),
                target = format_rupees(target.0, d).as_str(), score = score.total as f64 / 10_000.0,
                score_momentum = f(score.momentum), score_trend = f(score.trend), score_liquidity = f(score.liquidity),
                score_regime = f(score.regime), score_rr = f(score.rr), score_penalty = f(score.penalty),
                kind = kind, sell_symbol = sell_symbol, max_loss = max_loss.as_str(), max_profit = max_profit.as_str();
                "Signal {} {} {} score {:.3} (momentum {:.2}, trend {:.2}, liquidity {:.2}, regime {:.2}, rr {:.2}, penalty {:.2}){legs_text}",
                strategy.as_str(), side.as_str(), s, score.total as f64 / 10_000.0, f(score.momentum), f(score.trend),
                f(score.liquidity), f(score.regime), f(score.rr), f(score.penalty));
        }
        HotEvent::SignalRanked { signal, top_n } => {
            let (s, _) = sym(master, signal.token);
            log::info!(target: "strategy", symbol = s.as_str(), strategy = signal.strategy.as_str(),
                score = signal.score.total as f64 / 10_000.0, top_n = top_n;
                "Signal {} {} {} ranked out: score {:.3} is not in this bar's top {top_n}",
                signal.strategy.as_str(), signal.side.as_str(), s, signal.score.total as f64 / 10_000.0);
        }
        HotEvent::StrategyNote {
            strategy,
            count,
            note,
        } => {
            log::warn!(target: "strategy", strategy = strategy.as_str(), instruments = count;
                "{}: {note} ({count} instruments)", strategy.as_str());
        }
        HotEvent::IvClose {
            underlying,
            date,
            atm_iv,
        } => {
            log::info!(target: "strategy", underlying = underlying.as_str(), date = date.to_string().as_str(), atm_iv = atm_iv;
                "OptionsRanker: {} closing ATM IV {:.2}% on {date}", underlying.as_str(), atm_iv * 100.0);
        }
        HotEvent::SpreadClosed {
            id,
            buy,
            sell,
            purpose,
        } => {
            let (b, _) = sym(master, buy);
            let (s, _) = sym(master, sell);
            log::info!(target: "risk", spread = id, buy_symbol = b.as_str(), sell_symbol = s.as_str(), exit_reason = purpose.as_str();
                "Spread {id} closed ({}): long {b}, short {s}", purpose.as_str());
        }
        HotEvent::SignalRefused {
            token,
            strategy,
            reason,
        } => {
            let (s, _) = sym(master, token);
            log::info!(target: "risk", symbol = s.as_str(), strategy = strategy.as_str(), reason = reason;
                "Signal refused for {s}: {reason}");
        }
        HotEvent::OrderSent {
            id,
            token,
            side,
            qty,
            order_type,
            price,
            purpose,
        } => {
            let (s, d) = sym(master, token);
            log::info!(target: "order", order_id = id.0, tag = id.tag().as_str(), symbol = s.as_str(), side = side.as_str(),
                qty = qty.0, order_type = order_type.as_str(), price = format_rupees(price.0, d).as_str(), purpose = purpose.as_str();
                "Placing order {} {} {} {} ({})", side.as_str(), qty.0, s, order_type.as_str(), purpose.as_str());
        }
        HotEvent::OrderFilled {
            id,
            token,
            side,
            qty,
            price,
            purpose,
            strategy,
        } => {
            let (s, d) = sym(master, token);
            log::info!(target: "order", order_id = id.0, tag = id.tag().as_str(), symbol = s.as_str(), side = side.as_str(),
                qty = qty.0, price = format_rupees(price.0, d).as_str(), purpose = purpose.as_str(), strategy = strategy.as_str();
                "Order filled {} {} {} @ {}", side.as_str(), qty.0, s, format_rupees(price.0, d));
        }
        HotEvent::OrderRejected { id, token, reason } => {
            let (s, _) = sym(master, token);
            log::warn!(target: "order", order_id = id.0, symbol = s.as_str(), reason = reason.as_str();
                "Order rejected for {s}: {}", reason.as_str());
        }
        HotEvent::OrderCancelled { id, token } => {
            let (s, _) = sym(master, token);
            log::info!(target: "order", order_id = id.0, symbol = s.as_str(); "Order cancelled for {s}");
        }
        HotEvent::PositionClosed {
            token,
            qty,
            entry,
            exit,
            pnl,
            charges,
            purpose,
        } => {
            let (s, d) = sym(master, token);
            let net = crate::domain::Paise(pnl.0 - charges.0);
            log::info!(target: "risk", symbol = s.as_str(), qty = qty.0, entry = format_rupees(entry.0, d).as_str(),
                exit = format_rupees(exit.0, d).as_str(), pnl = format_rupees(pnl.0, 100).as_str(),
                charges = format_rupees(charges.0, 100).as_str(), net_pnl = format_rupees(net.0, 100).as_str(),
                exit_reason = purpose.as_str();
                "Position closed {s} ({}): P&L {} gross, {} net of {} charges", purpose.as_str(),
                format_rupees(pnl.0, 100), format_rupees(net.0, 100), format_rupees(charges.0, 100));
        }
        HotEvent::StateChanged { from, to, reason } => {
            log::warn!(target: "risk", from = from, to = to, reason = reason; "Trading state {from} -> {to}: {reason}");
        }
        HotEvent::ModeChanged { from, to } => {
            log::warn!(target: "risk", from = from, to = to; "Mode {from} -> {to}: orders go to {} from now on (POST /mode; journaled)",
                if to == "LIVE" { "Kite" } else { "the paper broker" });
        }
        HotEvent::SquareOff { positions, segment } => {
            log::info!(target: "risk", positions = positions, segment = segment;
                "EOD square-off ({segment}): closing {positions} position(s)");
        }
        HotEvent::ExitRejected {
            id,
            token,
            purpose,
            attempt,
            retry_in_s,
        } => {
            let (s, _) = sym(master, token);
            log::error!(target: "risk", order_id = id.0, tag = id.tag().as_str(), symbol = s.as_str(),
                exit_reason = purpose.as_str(), attempt = attempt, retry_in_s = retry_in_s;
                "ALERT: exit of {s} ({}) rejected (attempt {attempt}); retrying in {retry_in_s} s",
                purpose.as_str());
        }
        HotEvent::UnknownOrderUpdate { id, token } => {
            let (s, _) = sym(master, token);
            log::warn!(target: "risk", order_id = id.0, tag = id.tag().as_str(), symbol = s.as_str();
                "Order update for unknown order {} ({s}): ignored", id.tag().as_str());
        }
        HotEvent::ProtectiveStop {
            token,
            action,
            qty,
            trigger,
        } => {
            let (s, d) = sym(master, token);
            let t = format_rupees(trigger.0, d);
            let what = match action {
                "place" => "placing",
                "move" => "moving",
                _ => "cancelling",
            };
            log::info!(target: "risk", symbol = s.as_str(), action = action, qty = qty.0, trigger = t.as_str();
                "Protective stop for {s}: {what} {} at trigger {t}", qty.0);
        }
        HotEvent::SessionPhase { from, to } => {
            log::info!(target: "risk", from = from, to = to; "Session phase {from} -> {to}");
        }
        HotEvent::DailyLossStop { pnl } => {
            log::error!(target: "risk", pnl = format_rupees(pnl.0, 100).as_str();
                "Daily loss limit hit (P&L {}): flattening and halting new entries", format_rupees(pnl.0, 100));
        }
        HotEvent::MalformedFrame { error } => {
            log::warn!(target: "feed", error = error.to_string().as_str(); "Malformed frame skipped: {error}");
        }
        HotEvent::RingFull { ring } => {
            log::warn!(target: "pipeline", ring = ring; "Ring {ring} full: back-pressure, producer waiting");
        }
        HotEvent::WsConnected {
            conn,
            tokens,
            reconnect_us,
        } => match reconnect_us {
            Some(us) => {
                log::info!(target: "feed", conn = conn, tokens = tokens, reconnect_us = us;
                    "Ticker connection {conn} reconnected in {:.1} ms, {tokens} tokens resubscribed", us as f64 / 1000.0)
            }
            None => {
                log::info!(target: "feed", conn = conn, tokens = tokens; "Ticker connection {conn} open, {tokens} tokens subscribed")
            }
        },
        HotEvent::WsDisconnected { conn, reason } => {
            log::warn!(target: "feed", conn = conn, reason = reason; "Ticker connection {conn} lost: {reason}");
        }
        HotEvent::WsReconnecting {
            conn,
            attempt,
            delay_ms,
        } => {
            log::info!(target: "feed", conn = conn, attempt = attempt, delay_ms = delay_ms;
                "Ticker connection {conn}: reconnect attempt {attempt} in {delay_ms} ms");
        }
        HotEvent::WsGaveUp { conn, attempts } => {
            log::error!(target: "feed", conn = conn, attempts = attempts;
                "ALERT: ticker connection {conn} gave up after {attempts} reconnect attempts: market feed lost, new entries halted");
        }
        HotEvent::WsTokenRefused { conn } => {
            log::error!(target: "feed", conn = conn;
                "ALERT: Kite refused the access token on ticker connection {conn} (TokenException): new entries halted; run `aitrapp login`");
        }
        HotEvent::WsResubscribed {
            conn,
            added,
            removed,
            tokens,
        } => {
            log::info!(target: "feed", conn = conn, added = added, removed = removed, tokens = tokens;
                "Ticker connection {conn} resubscribed: +{added} -{removed}, {tokens} tokens");
        }
        HotEvent::BrokerText { kind, text } => {
            log::warn!(target: "feed", kind = kind, text = text.as_str(); "Broker {kind}: {}", text.as_str());
        }
    }
}
