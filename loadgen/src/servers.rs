//! Which server each connection goes to when loadgen is given several URLs.
//!
//! Rule (also in `loadgen --help` and benches/README.md): connections are split into two
//! sides, the *publishing* side (pubsub publishers, reqrep requesters) and the
//! *subscribing* side (pubsub subscribers, reqrep responders; every conns connection).
//! Each side has its own URL list, `--pub-url` / `--sub-url`, both defaulting to `--url`,
//! and connection `i` of a side goes to URL `i mod N` of its list (round-robin, in the
//! order given). So `--url A,B` spreads both sides over A and B, and
//! `--pub-url A --sub-url B` puts every publisher on A and every subscriber on B.

use crate::cli::resolve_url;
use crate::connection::Target;

/// The resolved URL lists of both sides, never empty.
#[derive(Clone, Debug)]
pub struct Servers {
    publishing: Vec<Target>,
    subscribing: Vec<Target>,
}

impl Servers {
    /// Resolves `url` (the default of both sides) and each side's own list, if given.
    pub fn resolve(
        url: &[String],
        pub_url: &[String],
        sub_url: &[String],
    ) -> Result<Servers, String> {
        let side = |own: &[String]| {
            let urls = if own.is_empty() { url } else { own };
            resolve_all(urls)
        };
        Ok(Servers {
            publishing: side(pub_url)?,
            subscribing: side(sub_url)?,
        })
    }

    /// `--ws-compression`: every `ws://` server gets the permessage-deflate offer; an error
    /// when on and no URL is `ws://`.
    pub fn ws_compression(mut self, on: bool) -> Result<Servers, String> {
        if !on {
            return Ok(self);
        }
        let targets = self.publishing.iter_mut().chain(&mut self.subscribing);
        let mut websockets = 0;
        for websocket in targets.filter_map(|target| target.websocket.as_mut()) {
            websocket.compression = true;
            websockets += 1;
        }
        if websockets == 0 {
            return Err("--ws-compression needs a ws:// URL".into());
        }
        Ok(self)
    }

    /// Publishing connection `index` (publisher, requester).
    pub fn publisher(&self, index: usize) -> &Target {
        &self.publishing[index % self.publishing.len()]
    }

    /// Subscribing connection `index` (subscriber, responder, idle connection).
    pub fn subscriber(&self, index: usize) -> &Target {
        &self.subscribing[index % self.subscribing.len()]
    }
}

/// Every URL resolved, in order; an empty list (`--url ''`) is an error.
fn resolve_all(urls: &[String]) -> Result<Vec<Target>, String> {
    let urls: Vec<&String> = urls.iter().filter(|url| !url.trim().is_empty()).collect();
    if urls.is_empty() {
        return Err("no server URL given".into());
    }
    urls.into_iter()
        .map(|url| resolve_url(url.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    fn ports(servers: &Servers, count: usize) -> (Vec<u16>, Vec<u16>) {
        let publishers = (0..count)
            .map(|i| servers.publisher(i).address.port())
            .collect();
        let subscribers = (0..count)
            .map(|i| servers.subscriber(i).address.port())
            .collect();
        (publishers, subscribers)
    }

    #[test]
    fn both_sides_go_round_robin_over_url() {
        let url = strings(&["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"]);
        let servers = Servers::resolve(&url, &[], &[]).unwrap();
        let expected = vec![1001, 1002, 1003, 1001, 1002];
        assert_eq!(ports(&servers, 5), (expected.clone(), expected));
    }

    #[test]
    fn each_side_may_have_its_own_list() {
        let url = strings(&["127.0.0.1:1001"]);
        let servers = Servers::resolve(&url, &strings(&["127.0.0.1:2001"]), &[]).unwrap();
        assert_eq!(ports(&servers, 2), (vec![2001, 2001], vec![1001, 1001]));
        let servers = Servers::resolve(
            &url,
            &[],
            &strings(&["127.0.0.1:3001", "nats://127.0.0.1:3002"]),
        )
        .unwrap();
        assert_eq!(ports(&servers, 3), (vec![1001; 3], vec![3001, 3002, 3001]));
    }

    #[test]
    fn an_empty_list_is_an_error() {
        assert_eq!(
            Servers::resolve(&strings(&[""]), &[], &[]).unwrap_err(),
            "no server URL given"
        );
        let url = strings(&["127.0.0.1:1001"]);
        assert_eq!(
            Servers::resolve(&url, &strings(&[" "]), &[]).unwrap_err(),
            "no server URL given"
        );
    }

    /// `--ws-compression` turns the offer on for every ws:// server, and needs one.
    #[test]
    fn ws_compression_reaches_every_websocket_server() {
        let url = strings(&["ws://127.0.0.1:1", "nats://127.0.0.1:2"]);
        let servers = Servers::resolve(&url, &[], &strings(&["ws://127.0.0.1:3"])).unwrap();
        let servers = servers.ws_compression(true).unwrap();
        let offers = |target: &Target| target.websocket.as_ref().map(|ws| ws.compression);
        assert_eq!(offers(servers.publisher(0)), Some(true));
        assert_eq!(offers(servers.publisher(1)), None);
        assert_eq!(offers(servers.subscriber(0)), Some(true));
        let tcp = Servers::resolve(&strings(&["127.0.0.1:1"]), &[], &[]).unwrap();
        assert_eq!(
            tcp.ws_compression(true).unwrap_err(),
            "--ws-compression needs a ws:// URL"
        );
    }
}
