//! Which endpoint a request names, and its query options, decoded and checked as
//! nats-server 2.9.10 does, with its exact error texts (answered as 400).

use super::http::{query_value, Response};
use serde::{Deserialize, Serialize};

/// Connections listed by default, and subscriptions (nats-server's DefaultConnListSize and
/// DefaultSubListSize).
pub const DEFAULT_LIST_SIZE: usize = 1024;

/// The endpoints served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/`: an HTML page linking the others.
    Root,
    Varz,
    Connz(ConnzOptions),
    /// `subs`: list each route's subjects.
    Routez(bool),
    Gatewayz,
    Leafz(LeafzOptions),
    Subsz(SubszOptions),
    Accountz,
    Healthz,
    Jsz(JszOptions),
    /// Ours: the /varz counters in Prometheus text format.
    Metrics,
}

impl Endpoint {
    /// The key this endpoint counts under in /varz `http_req_stats` (`/subscriptionsz`
    /// counts as `/subsz`, as in nats-server).
    pub fn stats_key(&self) -> &'static str {
        match self {
            Endpoint::Root => "/",
            Endpoint::Varz => "/varz",
            Endpoint::Connz(_) => "/connz",
            Endpoint::Routez(_) => "/routez",
            Endpoint::Gatewayz => "/gatewayz",
            Endpoint::Leafz(_) => "/leafz",
            Endpoint::Subsz(_) => "/subsz",
            Endpoint::Accountz => "/accountz",
            Endpoint::Healthz => "/healthz",
            Endpoint::Jsz(_) => "/jsz",
            Endpoint::Metrics => "/metrics",
        }
    }
}

/// A request that names no endpoint, or whose options are invalid, with the response; an
/// invalid /subsz still counts in `http_req_stats` (nats-server counts it before decoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub response: Response,
    pub counted_as: Option<&'static str>,
}

/// /leafz options: `subs` lists each link's subjects; `acc` keeps only links bound to
/// that account (empty: all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeafzOptions {
    pub subs: bool,
    pub account: String,
}

/// /jsz options, with nats-server's implications applied (`consumers` implies `streams`,
/// which implies `accounts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JszOptions {
    /// List the JetStream accounts (`account_details`).
    pub accounts: bool,
    /// List each account's streams (`stream_detail`).
    pub streams: bool,
    /// List each stream's consumers (`consumer_detail`).
    pub consumers: bool,
    /// Include stream and consumer configurations.
    pub config: bool,
    /// Answer only if this server leads the meta group (a standalone server always does;
    /// without JetStream: 400 "filtered response: not leader").
    pub leader_only: bool,
    /// Accounts skipped (in name order) and listed at most. nats-server panics on a
    /// negative offset or limit while listing accounts and drops the connection; ringmq
    /// reads a negative offset as 0 and a limit of 0 or less as the default.
    pub offset: usize,
    pub limit: usize,
    /// `acc`: that account's details alone, whatever `accounts` says (when it exists).
    pub account: String,
}

/// How /connz orders connections. Only `cid`/`start` (and `uptime`, `reason`) ascend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
}

impl SortKey {
    fn parse(text: &str) -> Option<SortKey> {
        Some(match text {
            "" | "cid" => SortKey::Cid,
            "start" => SortKey::Start,
            "subs" => SortKey::Subs,
            "pending" => SortKey::Pending,
            "msgs_to" => SortKey::MsgsTo,
            "msgs_from" => SortKey::MsgsFrom,
            "bytes_to" => SortKey::BytesTo,
            "bytes_from" => SortKey::BytesFrom,
            "last" => SortKey::Last,
            "idle" => SortKey::Idle,
            "uptime" => SortKey::Uptime,
            "stop" => SortKey::Stop,
            "reason" => SortKey::Reason,
            _ => return None,
        })
    }
}

/// Which connections /connz lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnState {
    Open,
    Closed,
    /// `any` or `all`.
    All,
}

impl ConnState {
    pub fn wants_open(self) -> bool {
        self != ConnState::Closed
    }

    pub fn wants_closed(self) -> bool {
        self != ConnState::Open
    }
}

/// Whether /connz lists each connection's subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubsListing {
    None,
    /// `subs=1`: subjects only.
    Subjects,
    /// `subs=detail`.
    Detail,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnzOptions {
    pub sort: SortKey,
    pub subs: SubsListing,
    pub offset: usize,
    /// 1 when `cid` is given, as in nats-server.
    pub limit: usize,
    /// 0: no filter.
    pub cid: u64,
    pub state: ConnState,
    /// Filters by user name, account and MQTT client id: ringmq connections have no user
    /// name and no MQTT client id, and all are in the global account `$G`.
    pub user: String,
    pub account: String,
    pub mqtt_client: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubszOptions {
    /// `subs=1`: list the subscriptions.
    pub subs: bool,
    pub offset: usize,
    pub limit: usize,
    /// Only subscriptions a message published to this literal subject would reach.
    pub test: Option<String>,
    pub account: String,
}

/// Decodes the endpoint and options of `path?query`.
pub fn route(path: &str, query: &str) -> Result<Endpoint, Refusal> {
    let refuse = |response, counted_as| Refusal {
        response,
        counted_as,
    };
    let bad = |text: String, counted_as| refuse(Response::bad_query(text), counted_as);
    Ok(match path {
        "/" => Endpoint::Root,
        "/varz" => Endpoint::Varz,
        "/connz" => Endpoint::Connz(connz_options(query).map_err(|text| bad(text, None))?),
        "/routez" => {
            let listing = subs_listing(query).map_err(|text| bad(text, Some("/routez")))?;
            Endpoint::Routez(listing != SubsListing::None)
        }
        "/gatewayz" => {
            parse_bool(query, "accs").map_err(|text| bad(text, Some("/gatewayz")))?;
            Endpoint::Gatewayz
        }
        "/leafz" => {
            let subs = parse_bool(query, "subs").map_err(|text| bad(text, Some("/leafz")))?;
            Endpoint::Leafz(LeafzOptions {
                subs,
                account: query_value(query, "acc"),
            })
        }
        "/subsz" | "/subscriptionsz" => {
            Endpoint::Subsz(subsz_options(query).map_err(|text| bad(text, Some("/subsz")))?)
        }
        "/accountz" => Endpoint::Accountz,
        "/jsz" => Endpoint::Jsz(jsz_options(query).map_err(|text| bad(text, Some("/jsz")))?),
        "/healthz" => {
            for flag in ["js-enabled", "js-enabled-only", "js-server-only"] {
                parse_bool(query, flag).map_err(|text| bad(text, Some("/healthz")))?;
            }
            Endpoint::Healthz
        }
        "/metrics" => Endpoint::Metrics,
        _ => return Err(refuse(Response::not_found(), None)),
    })
}

fn connz_options(query: &str) -> Result<ConnzOptions, String> {
    // Decoded in nats-server's order, so the first bad parameter is the one reported.
    let sort_text = query_value(query, "sort");
    parse_bool(query, "auth")?;
    let subs = subs_listing(query)?;
    let offset = parse_int(query, "offset")?;
    let limit = parse_int(query, "limit")?;
    let cid = parse_uint(query, "cid")?;
    let state = match query_value(query, "state").to_lowercase().as_str() {
        "" | "open" => ConnState::Open,
        "closed" => ConnState::Closed,
        "any" | "all" => ConnState::All,
        _ => {
            return Err(format!(
                "Error decoding state for {}",
                query_value(query, "state")
            ))
        }
    };
    let sort =
        SortKey::parse(&sort_text).ok_or_else(|| format!("invalid sorting option: {sort_text}"))?;
    if sort == SortKey::Stop && state != ConnState::Closed {
        return Err("sort by stop only valid on closed connections".to_string());
    }
    if sort == SortKey::Reason && state != ConnState::Closed {
        return Err("sort by reason only valid on closed connections".to_string());
    }
    let limit = if cid > 0 {
        1
    } else if limit <= 0 {
        DEFAULT_LIST_SIZE
    } else {
        usize::try_from(limit).unwrap_or(usize::MAX)
    };
    Ok(ConnzOptions {
        sort,
        subs,
        offset: usize::try_from(offset.max(0)).unwrap_or(usize::MAX),
        limit,
        cid,
        state,
        user: query_value(query, "user"),
        account: query_value(query, "acc"),
        mqtt_client: query_value(query, "mqtt_client"),
    })
}

fn jsz_options(query: &str) -> Result<JszOptions, String> {
    // Decoded in nats-server's order, so the first bad parameter is the one reported.
    let accounts = parse_bool(query, "accounts")?;
    let streams = parse_bool(query, "streams")?;
    let consumers = parse_bool(query, "consumers")?;
    let config = parse_bool(query, "config")?;
    let offset = parse_int(query, "offset")?;
    let limit = parse_int(query, "limit")?;
    let leader_only = parse_bool(query, "leader-only")?;
    let streams = streams || consumers;
    Ok(JszOptions {
        accounts: accounts || streams,
        streams,
        consumers,
        config,
        leader_only,
        offset: usize::try_from(offset.max(0)).unwrap_or(usize::MAX),
        limit: if limit <= 0 {
            DEFAULT_LIST_SIZE
        } else {
            usize::try_from(limit).unwrap_or(usize::MAX)
        },
        account: query_value(query, "acc"),
    })
}

fn subsz_options(query: &str) -> Result<SubszOptions, String> {
    let subs = parse_bool(query, "subs")?;
    let offset = parse_int(query, "offset")?;
    let limit = parse_int(query, "limit")?;
    let test = query_value(query, "test");
    if !test.is_empty() && !crate::subjects::is_valid_literal(test.as_bytes()) {
        return Err(format!(
            "invalid test subject, must be valid publish subject: {test}"
        ));
    }
    Ok(SubszOptions {
        subs,
        offset: usize::try_from(offset.max(0)).unwrap_or(usize::MAX),
        limit: if limit <= 0 {
            DEFAULT_LIST_SIZE
        } else {
            usize::try_from(limit).unwrap_or(usize::MAX)
        },
        test: (!test.is_empty()).then_some(test),
        account: query_value(query, "acc"),
    })
}

/// `subs=detail`, or a boolean `subs`.
fn subs_listing(query: &str) -> Result<SubsListing, String> {
    if query_value(query, "subs").to_lowercase() == "detail" {
        return Ok(SubsListing::Detail);
    }
    Ok(if parse_bool(query, "subs")? {
        SubsListing::Subjects
    } else {
        SubsListing::None
    })
}

/// Go's `strconv.ParseBool`; an absent parameter is false.
fn parse_bool(query: &str, name: &str) -> Result<bool, String> {
    let text = query_value(query, name);
    match text.as_str() {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        _ => Err(format!(
            "Error decoding boolean for '{name}': strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(&text)
        )),
    }
}

/// Go's `strconv.Atoi` on a 64-bit platform; an absent parameter is 0.
fn parse_int(query: &str, name: &str) -> Result<i64, String> {
    let text = query_value(query, name);
    if text.is_empty() {
        return Ok(0);
    }
    parse_decimal(&text, true)
        .map(|(negative, magnitude)| {
            if negative {
                (magnitude as i128).wrapping_neg()
            } else {
                magnitude as i128
            }
        })
        .and_then(|value| i64::try_from(value).map_err(|_| "value out of range"))
        .map_err(|why| {
            format!(
                "Error decoding int for '{name}': strconv.Atoi: parsing {}: {why}",
                go_quote(&text)
            )
        })
}

/// Go's `strconv.ParseUint(text, 10, 64)`; an absent parameter is 0.
fn parse_uint(query: &str, name: &str) -> Result<u64, String> {
    let text = query_value(query, name);
    if text.is_empty() {
        return Ok(0);
    }
    parse_decimal(&text, false)
        .and_then(|(_, magnitude)| u64::try_from(magnitude).map_err(|_| "value out of range"))
        .map_err(|why| {
            format!(
                "Error decoding uint64 for '{name}': strconv.ParseUint: parsing {}: {why}",
                go_quote(&text)
            )
        })
}

/// Digits with an optional sign (`signed` only): (negative, magnitude). Go reports a
/// syntax error before a range error.
fn parse_decimal(text: &str, signed: bool) -> Result<(bool, u128), &'static str> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') if signed => (true, &text[1..]),
        Some(b'+') if signed => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    let mut magnitude: u128 = 0;
    for digit in digits.bytes() {
        magnitude = magnitude.saturating_mul(10) + u128::from(digit - b'0');
        magnitude = magnitude.min(u128::from(u64::MAX) + 1);
    }
    Ok((negative, magnitude))
}

/// Go's `%q`/`strconv.Quote` for the texts that reach an error message.
fn go_quote(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal_text(path: &str, query: &str) -> (u16, String) {
        let refusal = route(path, query).unwrap_err();
        (
            refusal.response.status,
            String::from_utf8(refusal.response.body).unwrap(),
        )
    }

    #[test]
    fn connz_defaults_and_options() {
        let Endpoint::Connz(options) = route("/connz", "").unwrap() else {
            panic!("connz");
        };
        assert_eq!(options.sort, SortKey::Cid);
        assert_eq!(options.subs, SubsListing::None);
        assert_eq!((options.offset, options.limit, options.cid), (0, 1024, 0));
        assert_eq!(options.state, ConnState::Open);
        let query = "sort=msgs_to&subs=detail&offset=-3&limit=0&state=ALL";
        let Endpoint::Connz(options) = route("/connz", query).unwrap() else {
            panic!("connz");
        };
        assert_eq!(options.sort, SortKey::MsgsTo);
        assert_eq!(options.subs, SubsListing::Detail);
        assert_eq!((options.offset, options.limit), (0, 1024));
        assert_eq!(options.state, ConnState::All);
        let Endpoint::Connz(options) = route("/connz", "cid=7&limit=50&subs=true").unwrap() else {
            panic!("connz");
        };
        assert_eq!((options.cid, options.limit), (7, 1));
        assert_eq!(options.subs, SubsListing::Subjects);
    }

    #[test]
    fn connz_errors_are_nats_servers() {
        let cases = [
            ("sort=bogus", "invalid sorting option: bogus"),
            ("state=bogus", "Error decoding state for bogus"),
            (
                "limit=x",
                "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            (
                "offset=99999999999999999999",
                "Error decoding int for 'offset': strconv.Atoi: parsing \
                 \"99999999999999999999\": value out of range",
            ),
            (
                "cid=-1",
                "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": \
                 invalid syntax",
            ),
            (
                "subs=yes",
                "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"yes\": \
                 invalid syntax",
            ),
            ("sort=stop", "sort by stop only valid on closed connections"),
            (
                "sort=reason&state=all",
                "sort by reason only valid on closed connections",
            ),
            // The first bad parameter in nats-server's decoding order wins.
            (
                "limit=x&subs=yes",
                "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"yes\": \
                 invalid syntax",
            ),
        ];
        for (query, text) in cases {
            assert_eq!(
                refusal_text("/connz", query),
                (400, text.to_string()),
                "{query}"
            );
        }
        assert!(route("/connz", "sort=stop&state=closed").is_ok());
    }

    #[test]
    fn subsz_options_and_errors() {
        let Endpoint::Subsz(options) = route("/subscriptionsz", "subs=1&test=foo.bar").unwrap()
        else {
            panic!("subsz");
        };
        assert!(options.subs);
        assert_eq!(options.test.as_deref(), Some("foo.bar"));
        assert_eq!(
            refusal_text("/subsz", "test=a.*"),
            (
                400,
                "invalid test subject, must be valid publish subject: a.*".to_string()
            )
        );
        assert_eq!(
            route("/subsz", "subs=2").unwrap_err().counted_as,
            Some("/subsz")
        );
    }

    #[test]
    fn leafz_takes_subs_and_acc() {
        assert_eq!(
            route("/leafz", "subs=1&acc=A"),
            Ok(Endpoint::Leafz(LeafzOptions {
                subs: true,
                account: "A".into()
            }))
        );
        assert_eq!(
            route("/leafz", ""),
            Ok(Endpoint::Leafz(LeafzOptions::default()))
        );
        assert_eq!(
            refusal_text("/leafz", "subs=x"),
            (
                400,
                "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax"
                    .into()
            )
        );
    }

    #[test]
    fn jsz_options_imply_and_refuse_as_nats_server() {
        let Endpoint::Jsz(options) = route("/jsz", "consumers=1&acc=A&offset=2&limit=-5").unwrap()
        else {
            panic!("jsz");
        };
        assert!(options.accounts && options.streams && options.consumers);
        assert!(!options.config && !options.leader_only);
        assert_eq!((options.offset, options.limit), (2, DEFAULT_LIST_SIZE));
        assert_eq!(options.account, "A");
        let Endpoint::Jsz(options) = route("/jsz", "streams=true&leader-only=t").unwrap() else {
            panic!("jsz");
        };
        assert!(options.accounts && options.streams && !options.consumers);
        assert!(options.leader_only);
        assert_eq!(
            refusal_text("/jsz", "limit=x&accounts=yes"),
            (
                400,
                "Error decoding boolean for 'accounts': strconv.ParseBool: parsing \"yes\": \
                 invalid syntax"
                    .into()
            )
        );
        assert_eq!(
            route("/jsz", "offset=x").unwrap_err().counted_as,
            Some("/jsz")
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in ["/nope", "/varz/", "/VARZ", "/stacksz"] {
            assert_eq!(refusal_text(path, "").0, 404, "{path}");
        }
        for (path, key) in [
            ("/", "/"),
            ("/varz", "/varz"),
            ("/routez", "/routez"),
            ("/gatewayz", "/gatewayz"),
            ("/leafz", "/leafz"),
            ("/accountz", "/accountz"),
            ("/healthz", "/healthz"),
            ("/jsz", "/jsz"),
            ("/metrics", "/metrics"),
        ] {
            assert_eq!(route(path, "").unwrap().stats_key(), key);
        }
    }
}
