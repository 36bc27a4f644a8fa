//! Multi-perspective issuance corroboration end to end: the whole CA with `[mpic]`, and
//! remote perspectives (`ferrite va-agent`, built by `ferrite_app::mpic` as the command
//! builds them), enrolled into the primary's data directory with its MPIC CA.
//!
//! The quorum cases run twice:
//! - on loopback ports, each agent with its own mock DNS and http-01 responder (they run
//!   anywhere);
//! - in network namespaces the test makes ([`Namespaces`]): the primary, its ACME client and
//!   the domain's one web server in a hub namespace, each agent in its own namespace behind a
//!   veth link, with its own DNS server inside it. A perspective whose route to the web
//!   server is hijacked reaches an impostor at the same address inside its namespace; a
//!   perspective whose link is cut is unreachable. Where namespaces cannot be made (not
//!   root), these print why and skip.
//!
//! Only 127.0.0.1 and the namespaces' own private addresses are contacted; every test is
//! bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrite_app::Config;
use ferrite_app::config::Mpic;
use ferrite_testkit::dns::MockDns;
use ferrite_testkit::netns::{NamespaceRuntime, Netns, link};
use ferrite_testkit::responders::Http01Responder;
use ferrite_testkit::{TestCa, TestCaOptions, bounded};
use ferrite_va::mpic::{
    Agent, Check, MpicMode, PerspectiveConfig, PerspectiveRequest, ResultSigner,
};
use instant_acme::{ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy};

const DOMAIN: &str = "mpic.example.com";

fn retry() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .backoff(1.5)
        .timeout(Duration::from_secs(20))
}

/// How a perspective behaves in a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// It sees the right key authorization.
    Agrees,
    /// It sees another value: its own responder serves one (loopback), or its route to the
    /// web server's address leads to an impostor inside its namespace.
    SeesOtherAnswer,
    /// Its DNS has a CAA record naming another CA.
    SeesForbiddingCaa,
    /// Not running (loopback), or its namespace's link is cut.
    Down,
    /// Its http-01 answer comes after 4 s, past the corroboration timeout (in namespaces:
    /// from a slow server its route leads to).
    Slow,
    /// Signs its results with a key other than its enrolled certificate's.
    Forges,
}

/// The address of the domain's web server, on the hub's loopback interface (and, for a
/// hijacked route, on the perspective's own).
const WEB: Ipv4Addr = Ipv4Addr::new(10, 204, 0, 10);

/// The test's network: a hub namespace (the primary, its ACME client, the web server at
/// [`WEB`]) and one namespace per perspective, linked to the hub by a veth pair: hub side
/// `p{i}` 10.203.i.1/24, perspective side `uplink` 10.203.i.2/24 with its default route
/// through the hub. Deleted when dropped.
struct Namespaces {
    hub: Netns,
    /// Each perspective's namespace and a runtime whose sockets live in it.
    perspectives: Vec<(Netns, NamespaceRuntime)>,
}

impl Namespaces {
    fn create(count: u8) -> std::io::Result<Namespaces> {
        let hub = Netns::create("hub")?;
        hub.ip(&["addr", "add", &format!("{WEB}/32"), "dev", "lo"])?;
        let mut perspectives = Vec::new();
        for i in 0..count {
            let ns = Netns::create(&format!("p{i}"))?;
            link(
                &hub,
                &format!("p{i}"),
                &format!("10.203.{i}.1/24"),
                &ns,
                "uplink",
                &format!("10.203.{i}.2/24"),
            )?;
            ns.ip(&["route", "add", "default", "via", &format!("10.203.{i}.1")])?;
            let runtime = ns.runtime(1)?;
            perspectives.push((ns, runtime));
        }
        Ok(Namespaces { hub, perspectives })
    }

    /// Undoes what a deployment changed: every link up, no route hijacked.
    fn reset(&self) {
        for (i, (ns, _)) in self.perspectives.iter().enumerate() {
            self.hub
                .ip(&["link", "set", "dev", &format!("p{i}"), "up"])
                .unwrap();
            // Absent unless a deployment hijacked this perspective's route.
            let _ = ns.ip(&["addr", "del", &format!("{WEB}/32"), "dev", "lo"]);
        }
    }

    /// The address perspective `i` has on its link to the hub.
    fn address(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 203, u8::try_from(i).unwrap(), 2)
    }
}

/// Where the perspectives run.
#[derive(Clone)]
enum Net {
    /// Each agent on a loopback port of the test's runtime, with its own DNS and responder.
    Loopback,
    /// Each agent in its own namespace; the test runs in the hub.
    Namespaces(Arc<Namespaces>),
}

/// Runs `case` in the hub of five perspectives' namespaces (on a runtime of the hub), or
/// prints why it cannot and returns.
fn in_namespaces<F, Fut>(case: F)
where
    F: FnOnce(Net) -> Fut + Send,
    Fut: Future<Output = ()>,
{
    if let Some(reason) = Netns::unavailable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let nets = Arc::new(Namespaces::create(5).unwrap());
    let net = Net::Namespaces(nets.clone());
    nets.hub
        .run(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(bounded(case(net)))
        })
        .unwrap();
}

/// One remote perspective: its own DNS and http-01 responder, served until dropped.
struct TestAgent {
    id: String,
    role: Role,
    dns: MockDns,
    /// Where it fetches http-01 answers: its own responder, or (in namespaces, unhijacked)
    /// the web server every perspective shares.
    http01: Arc<Http01Responder>,
    /// Its address on the link to the hub (in namespaces).
    uplink: Option<IpAddr>,
    _stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A primary with `[mpic]` and its agents.
struct Deployment {
    ca: TestCa,
    agents: Vec<TestAgent>,
    /// The domain's web server the primary and the unhijacked perspectives reach (in
    /// namespaces).
    web: Option<Arc<Http01Responder>>,
    /// As `[[mpic.perspectives]]` names them.
    perspectives: Vec<PerspectiveConfig>,
    _primary_dir: tempfile::TempDir,
    _bundles: tempfile::TempDir,
}

async fn deploy(roles: &[Role], mode: MpicMode, timeout_ms: u64) -> Deployment {
    deploy_on(Net::Loopback, roles, mode, timeout_ms).await
}

/// Runs `future` where perspective `i`'s sockets belong: on its namespace's runtime, or here.
async fn on<F>(net: &Net, i: usize, future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match net {
        Net::Loopback => future.await,
        Net::Namespaces(nets) => nets.perspectives[i].1.run(future).await,
    }
}

async fn deploy_on(net: Net, roles: &[Role], mode: MpicMode, timeout_ms: u64) -> Deployment {
    deploy_with(net, roles, mode, timeout_ms, TestCaOptions::default()).await
}

/// [`deploy_on`] with the primary started from `opts` (its `[mpic]` and data directory are
/// set here).
async fn deploy_with(
    net: Net,
    roles: &[Role],
    mode: MpicMode,
    timeout_ms: u64,
    mut opts: TestCaOptions,
) -> Deployment {
    let primary_dir = tempfile::tempdir().unwrap();
    let bundles = tempfile::tempdir().unwrap();
    let primary = Config {
        data_dir: primary_dir.path().to_owned(),
        ..Config::default()
    };
    // Each perspective's enrollment and listener first: the primary's configuration names
    // their addresses.
    if let Net::Namespaces(nets) = &net {
        nets.reset();
    }
    let mut perspectives = Vec::new();
    let mut listeners = Vec::new();
    for i in 0..roles.len() {
        let id = format!("p{i}");
        let region = format!("region-{i}");
        ferrite_app::mpic::enroll(&primary, &id, &region, &bundles.path().join(&id)).unwrap();
        let bind: SocketAddr = match net {
            Net::Loopback => (Ipv4Addr::LOCALHOST, 0).into(),
            Net::Namespaces(_) => (Namespaces::address(i), 0).into(),
        };
        let listener = on(&net, i, async move {
            tokio::net::TcpListener::bind(bind).await.unwrap()
        })
        .await;
        perspectives.push(PerspectiveConfig {
            id,
            region,
            url: format!("https://{}", listener.local_addr().unwrap()),
        });
        listeners.push(listener);
    }
    opts.config.mpic = Mpic {
        mode,
        timeout_ms,
        perspectives: perspectives.clone(),
        ..Mpic::default()
    };
    opts.data_dir = Some(primary_dir.path().to_owned());
    let ca = TestCa::start_with(opts).await;
    // In namespaces the primary validates at the web server too, on the port it validates.
    let web = match net {
        Net::Loopback => None,
        Net::Namespaces(_) => {
            ca.dns.set_a(DOMAIN, vec![IpAddr::V4(WEB)]);
            let web = Http01Responder::start_on((WEB, ca.http01.port()).into())
                .await
                .unwrap();
            Some(Arc::new(web))
        }
    };
    let mut agents = Vec::new();
    for ((i, role), listener) in roles.iter().enumerate().zip(listeners) {
        let id = perspectives[i].id.clone();
        let region = perspectives[i].region.clone();
        let bundle = bundles.path().join(&id);
        let dns = on(&net, i, async { MockDns::start().await.unwrap() }).await;
        if *role == Role::SeesForbiddingCaa {
            dns.add_caa(DOMAIN, 0, "issue", "other-ca.example");
        }
        let (http01, http01_port, uplink) = match (&net, &web) {
            (Net::Namespaces(nets), Some(web)) => {
                dns.set_a(DOMAIN, vec![IpAddr::V4(WEB)]);
                let port = ca.http01.port();
                let http01 = if matches!(role, Role::SeesOtherAnswer | Role::Slow) {
                    // The route to the web server's address ends inside the namespace.
                    let ns = &nets.perspectives[i].0;
                    ns.ip(&["addr", "add", &format!("{WEB}/32"), "dev", "lo"])
                        .unwrap();
                    let local = on(&net, i, async move {
                        Http01Responder::start_on((WEB, port).into()).await.unwrap()
                    })
                    .await;
                    Arc::new(local)
                } else {
                    web.clone()
                };
                (http01, port, Some(IpAddr::V4(Namespaces::address(i))))
            }
            _ => {
                let http01 = Http01Responder::start().await.unwrap();
                let port = http01.port();
                (Arc::new(http01), port, None)
            }
        };
        if *role == Role::Slow {
            http01.set_delay(Duration::from_secs(4));
        }
        let mut config = Config::default();
        config.validation.dns_resolver = dns.addr().to_string();
        config.validation.http01_port = http01_port;
        config.validation.allow_private_addresses = true;
        config.validation.dnssec = false;
        let (agent, tls) = ferrite_app::mpic::agent(
            &config,
            &bundle,
            Some(Box::new(|va: &mut ferrite_va::VaConfig| {
                va.timeout = Duration::from_secs(8)
            })),
        )
        .unwrap();
        let agent = if *role == Role::Forges {
            // The same TLS identity, but results signed with a key the primary never enrolled.
            let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            Arc::new(Agent::new(
                id.clone(),
                region.clone(),
                Arc::new(ferrite_testkit::ca::test_va(&dns, http01_port, 1, false)),
                ResultSigner::from_pkcs8(&other.serialize_der()).unwrap(),
            ))
        } else {
            agent
        };
        let stop = match (&net, role) {
            (Net::Loopback, Role::Down) => {
                drop(listener);
                None
            }
            _ => {
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                let serve = ferrite_app::mpic::serve_agent(listener, agent, tls, async {
                    let _ = rx.await;
                });
                match &net {
                    Net::Loopback => drop(tokio::spawn(serve)),
                    Net::Namespaces(nets) => drop(nets.perspectives[i].1.spawn(serve)),
                }
                Some(tx)
            }
        };
        if let (Net::Namespaces(nets), Role::Down) = (&net, role) {
            // The agent runs, but nothing reaches its namespace.
            nets.hub
                .ip(&["link", "set", "dev", &format!("p{i}"), "down"])
                .unwrap();
        }
        agents.push(TestAgent {
            id,
            role: *role,
            dns,
            http01,
            uplink,
            _stop: stop,
        });
    }
    Deployment {
        ca,
        agents,
        web,
        perspectives,
        _primary_dir: primary_dir,
        _bundles: bundles,
    }
}

/// What a refused challenge carried.
#[derive(Debug)]
struct Refused {
    kind: String,
    detail: String,
    /// (type, detail) of each subproblem.
    subproblems: Vec<(String, String)>,
}

/// Orders `DOMAIN`, answers http-01 on the primary's responder and on each agent's as its
/// role says, and returns the chain or the challenge's problem.
async fn order(d: &Deployment) -> Result<String, Refused> {
    let account = d.ca.new_account().await;
    let ids = [Identifier::Dns(DOMAIN.into())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    let mut authzs = order.authorizations();
    let mut authz = authzs.next().await.unwrap().unwrap();
    let mut challenge = authz.challenge(ChallengeType::Http01).unwrap();
    let token = challenge.token.clone();
    let ka = challenge.key_authorization();
    d.ca.http01.set(&token, ka.as_str());
    if let Some(web) = &d.web {
        web.set(&token, ka.as_str());
    }
    for agent in &d.agents {
        match agent.role {
            Role::SeesOtherAnswer => agent.http01.set(&token, "not.the-key-authorization"),
            _ => agent.http01.set(&token, ka.as_str()),
        }
    }
    // A validation that ends within the head start answers the challenge POST itself: a
    // refusal comes back as its problem document.
    if let Err(e) = challenge.set_ready().await {
        let instant_acme::Error::Api(problem) = e else {
            panic!("challenge POST failed: {e}");
        };
        return Err(refused(problem));
    }
    match order.poll_ready(&retry()).await.unwrap() {
        OrderStatus::Ready => {
            order.finalize().await.unwrap();
            Ok(order.poll_certificate(&retry()).await.unwrap())
        }
        OrderStatus::Invalid => {
            let mut authzs = order.authorizations();
            let mut authz = authzs.next().await.unwrap().unwrap();
            let state = authz.refresh().await.unwrap();
            let problem = state
                .challenges
                .iter()
                .find(|c| c.r#type == ChallengeType::Http01)
                .and_then(|c| c.error.clone())
                .expect("an invalid challenge carries its problem");
            Err(refused(problem))
        }
        other => panic!("order ended {other:?}"),
    }
}

fn refused(problem: instant_acme::Problem) -> Refused {
    Refused {
        kind: problem.r#type.unwrap_or_default(),
        detail: problem.detail.unwrap_or_default(),
        subproblems: problem
            .subproblems
            .into_iter()
            .map(|s| (s.r#type.unwrap_or_default(), s.detail.unwrap_or_default()))
            .collect(),
    }
}

/// The subproblems name exactly `ids` (in some order), each with its region.
fn assert_names(refused: &Refused, ids: &[&str]) {
    assert_eq!(refused.subproblems.len(), ids.len(), "{refused:#?}");
    for id in ids {
        let i: usize = id[1..].parse().unwrap();
        let named = format!("perspective {id} (region-{i})");
        assert!(
            refused
                .subproblems
                .iter()
                .any(|(_, d)| d.starts_with(&named)),
            "no subproblem names {id}: {refused:#?}"
        );
        assert!(
            refused.detail.contains(&format!("{id} (region-{i})")),
            "{refused:#?}"
        );
    }
}

use Role::*;

/// The ids of the agents that fetched the challenge. In namespaces, also checks the routes:
/// the web server saw only the primary and agents whose route is intact, each through its
/// own link; a hijacked agent fetched from the impostor inside its namespace.
fn fetched(d: &Deployment) -> Vec<&str> {
    let mut ids = Vec::new();
    for agent in &d.agents {
        let at_web = d.web.as_ref().filter(|w| Arc::ptr_eq(w, &agent.http01));
        let from = at_web.and(agent.uplink);
        if agent
            .http01
            .requests()
            .iter()
            .any(|r| from.is_none() || r.peer == from)
        {
            ids.push(agent.id.as_str());
        }
    }
    if let Some(web) = &d.web {
        let intact: Vec<Option<IpAddr>> = d
            .agents
            .iter()
            .filter(|a| Arc::ptr_eq(web, &a.http01))
            .map(|a| a.uplink)
            .collect();
        for r in web.requests() {
            assert!(
                r.peer == Some(IpAddr::V4(WEB)) || intact.contains(&r.peer),
                "the web server was reached from {:?}, which is neither the primary nor an agent whose route is intact",
                r.peer
            );
        }
    }
    ids
}

/// The corroboration kept with the domain validation (for reuse) at `path` (`/mpic` or
/// `/caa/mpic`).
async fn kept_corroboration(d: &Deployment, path: &str) -> serde_json::Value {
    let kept =
        d.ca.ca
            .store()
            .domain_validations(&ferrite_core::model::Scope::All)
            .await
            .unwrap();
    assert_eq!(kept.len(), 1);
    kept[0].record.pointer(path).unwrap().clone()
}

/// Declares a quorum case `$case(net: Net)` as two tests: on loopback ports, and in
/// network namespaces (`<name>_in_namespaces`).
macro_rules! both_networks {
    ($case:ident, $in_namespaces:ident) => {
        #[tokio::test]
        async fn $case() {
            bounded(cases::$case(Net::Loopback)).await;
        }

        #[test]
        fn $in_namespaces() {
            in_namespaces(cases::$case);
        }
    };
}

both_networks!(
    all_five_agree_and_the_certificate_is_issued,
    all_five_agree_and_the_certificate_is_issued_in_namespaces
);
both_networks!(
    one_of_five_seeing_another_answer_is_tolerated,
    one_of_five_seeing_another_answer_is_tolerated_in_namespaces
);
both_networks!(
    two_of_five_seeing_another_answer_refuse_with_subproblems_naming_them,
    two_of_five_seeing_another_answer_refuse_with_subproblems_naming_them_in_namespaces
);
both_networks!(
    caa_forbidding_issuance_from_two_perspectives_refuses,
    caa_forbidding_issuance_from_two_perspectives_refuses_in_namespaces
);
both_networks!(
    agents_down_count_as_disagreeing,
    agents_down_count_as_disagreeing_in_namespaces
);
both_networks!(
    mode_log_issues_on_the_primary_decision_and_records_the_rest,
    mode_log_issues_on_the_primary_decision_and_records_the_rest_in_namespaces
);

both_networks!(
    a_slow_agent_is_not_waited_for_once_the_quorum_is_certain,
    a_slow_agent_is_not_waited_for_once_the_quorum_is_certain_in_namespaces
);
both_networks!(
    two_agents_slower_than_the_timeout_refuse,
    two_agents_slower_than_the_timeout_refuse_in_namespaces
);
both_networks!(
    results_signed_with_another_key_are_refused,
    results_signed_with_another_key_are_refused_in_namespaces
);

/// The quorum cases, each on the network it is given.
mod cases {
    use super::*;

    pub(super) async fn a_slow_agent_is_not_waited_for_once_the_quorum_is_certain(net: Net) {
        let d = deploy_on(
            net,
            &[Agrees, Agrees, Slow, Agrees, Agrees],
            MpicMode::Enforce,
            2000,
        )
        .await;
        let began = Instant::now();
        order(&d).await.unwrap();
        // Four agreeing answers decide; the slow one (4 s) is not awaited.
        assert!(
            began.elapsed() < Duration::from_secs(4),
            "{:?}",
            began.elapsed()
        );
    }

    pub(super) async fn two_agents_slower_than_the_timeout_refuse(net: Net) {
        let d = deploy_on(
            net,
            &[Slow, Agrees, Agrees, Agrees, Slow],
            MpicMode::Enforce,
            1500,
        )
        .await;
        let refused = order(&d).await.unwrap_err();
        assert_names(&refused, &["p0", "p4"]);
        for (kind, detail) in &refused.subproblems {
            assert_eq!(kind, "urn:ietf:params:acme:error:connection");
            assert!(detail.contains("did not answer within 1500 ms"), "{detail}");
        }
    }

    pub(super) async fn results_signed_with_another_key_are_refused(net: Net) {
        let d = deploy_on(
            net,
            &[Forges, Agrees, Agrees, Forges, Agrees],
            MpicMode::Enforce,
            3000,
        )
        .await;
        let refused = order(&d).await.unwrap_err();
        assert_names(&refused, &["p0", "p3"]);
        for (kind, detail) in &refused.subproblems {
            assert_eq!(kind, "urn:ietf:params:acme:error:serverInternal");
            assert!(detail.contains("signature does not verify"), "{detail}");
        }
    }

    pub(super) async fn all_five_agree_and_the_certificate_is_issued(net: Net) {
        let d = deploy_on(net, &[Agrees; 5], MpicMode::Enforce, 3000).await;
        let chain = order(&d).await.unwrap();
        assert!(chain.contains("BEGIN CERTIFICATE"));
        // Four agreeing answers decide; the fifth may not have been awaited.
        assert!(fetched(&d).len() >= 4, "{:?}", fetched(&d));
        // The domain validation kept for reuse carries every perspective's answer, for the
        // validation and for its CAA check (`ferrite validation list` reads them).
        for path in ["/mpic", "/caa/mpic"] {
            let c = kept_corroboration(&d, path).await;
            assert_eq!(c["corroborated"], true, "{c}");
            let answers = c["answers"].as_array().unwrap();
            assert_eq!(answers.len(), 5, "{c}");
            let agreed = answers.iter().filter(|a| a["outcome"] == "agreed").count();
            assert!(agreed >= 4, "{c}");
        }
    }

    pub(super) async fn one_of_five_seeing_another_answer_is_tolerated(net: Net) {
        let d = deploy_on(
            net,
            &[Agrees, Agrees, SeesOtherAnswer, Agrees, Agrees],
            MpicMode::Enforce,
            3000,
        )
        .await;
        order(&d).await.unwrap();
    }

    pub(super) async fn two_of_five_seeing_another_answer_refuse_with_subproblems_naming_them(
        net: Net,
    ) {
        let d = deploy_on(
            net,
            &[Agrees, SeesOtherAnswer, Agrees, SeesOtherAnswer, Agrees],
            MpicMode::Enforce,
            3000,
        )
        .await;
        let refused = order(&d).await.unwrap_err();
        assert_eq!(refused.kind, "urn:ietf:params:acme:error:unauthorized");
        assert!(refused.detail.contains("§3.2.2.9"), "{refused:#?}");
        assert_names(&refused, &["p1", "p3"]);
        for (kind, detail) in &refused.subproblems {
            assert_eq!(kind, "urn:ietf:params:acme:error:incorrectResponse");
            assert!(detail.contains("disagreed"), "{detail}");
        }
        let fetched = fetched(&d);
        assert!(
            fetched.contains(&"p1") && fetched.contains(&"p3"),
            "{fetched:?}"
        );
    }

    pub(super) async fn caa_forbidding_issuance_from_two_perspectives_refuses(net: Net) {
        let d = deploy_on(
            net,
            &[Agrees, Agrees, SeesForbiddingCaa, Agrees, SeesForbiddingCaa],
            MpicMode::Enforce,
            3000,
        )
        .await;
        let refused = order(&d).await.unwrap_err();
        assert_eq!(refused.kind, "urn:ietf:params:acme:error:caa");
        assert_names(&refused, &["p2", "p4"]);
        for (kind, _) in &refused.subproblems {
            assert_eq!(kind, "urn:ietf:params:acme:error:caa");
        }
    }

    pub(super) async fn agents_down_count_as_disagreeing(net: Net) {
        let d = deploy_on(
            net.clone(),
            &[Agrees, Down, Agrees, Agrees, Agrees],
            MpicMode::Enforce,
            3000,
        )
        .await;
        order(&d).await.unwrap();
        drop(d);
        let d = deploy_on(
            net,
            &[Down, Agrees, Agrees, Down, Agrees],
            MpicMode::Enforce,
            3000,
        )
        .await;
        let refused = order(&d).await.unwrap_err();
        assert_names(&refused, &["p0", "p3"]);
        for (kind, detail) in &refused.subproblems {
            assert_eq!(kind, "urn:ietf:params:acme:error:connection");
            assert!(detail.contains("unreachable"), "{detail}");
        }
    }

    pub(super) async fn mode_log_issues_on_the_primary_decision_and_records_the_rest(net: Net) {
        let d = deploy_on(
            net,
            &[SeesOtherAnswer, SeesOtherAnswer, Down, Agrees, Agrees],
            MpicMode::Log,
            3000,
        )
        .await;
        order(&d).await.unwrap();
        // Every perspective that is up was asked and awaited.
        assert_eq!(fetched(&d), ["p0", "p1", "p3", "p4"]);
        // What the quorum would have decided is kept with the validation.
        let c = kept_corroboration(&d, "/mpic").await;
        assert_eq!(c["mode"], "log", "{c}");
        assert_eq!(c["corroborated"], false, "{c}");
        let outcome = |i: usize| c["answers"][i]["outcome"].as_str().unwrap().to_owned();
        assert_eq!(outcome(0), "disagreed", "{c}");
        assert_eq!(outcome(1), "disagreed", "{c}");
        assert_eq!(outcome(2), "unreachable", "{c}");
    }
}

/// The CAA check finalize repeats is corroborated too, and kept in the audit log with every
/// perspective's answer, whether it allows issuance or, once two perspectives see records
/// forbidding it, refuses with subproblems naming them.
#[tokio::test]
async fn finalize_corroborates_its_caa_recheck_and_audits_every_answer() {
    bounded(async {
        // Every finalize repeats the check.
        let opts =
            TestCaOptions::default().with_engine(|c| c.caa_recheck_after = time::Duration::ZERO);
        let d = deploy_with(Net::Loopback, &[Agrees; 5], MpicMode::Enforce, 3000, opts).await;
        order(&d).await.unwrap();

        // A second order: validated while CAA allows it, finalized once two perspectives'
        // DNS says another CA.
        let account = d.ca.new_account().await;
        let ids = [Identifier::Dns(DOMAIN.into())];
        let mut next = account.new_order(&NewOrder::new(&ids)).await.unwrap();
        let mut authzs = next.authorizations();
        let mut authz = authzs.next().await.unwrap().unwrap();
        let mut challenge = authz.challenge(ChallengeType::Http01).unwrap();
        let token = challenge.token.clone();
        let ka = challenge.key_authorization();
        d.ca.http01.set(&token, ka.as_str());
        for agent in &d.agents {
            agent.http01.set(&token, ka.as_str());
        }
        challenge.set_ready().await.unwrap();
        assert_eq!(next.poll_ready(&retry()).await.unwrap(), OrderStatus::Ready);
        for i in [1, 3] {
            d.agents[i]
                .dns
                .add_caa(DOMAIN, 0, "issue", "other-ca.example");
        }
        let instant_acme::Error::Api(problem) = next.finalize().await.unwrap_err() else {
            panic!("finalize failed otherwise");
        };
        let refused = refused(problem);
        assert_eq!(
            refused.kind, "urn:ietf:params:acme:error:caa",
            "{refused:#?}"
        );
        assert_names(&refused, &["p1", "p3"]);

        let rechecks = d.ca.audit_events("caa_rechecked").await;
        assert_eq!(rechecks.len(), 2, "{rechecks:?}");
        let (allowed, forbidden) = (&rechecks[0].1, &rechecks[1].1);
        assert_eq!(allowed["outcome"], "allowed", "{allowed}");
        assert_eq!(allowed["caa"]["mpic"]["corroborated"], true, "{allowed}");
        assert_eq!(
            allowed["caa"]["mpic"]["answers"].as_array().unwrap().len(),
            5,
            "{allowed}"
        );
        assert_eq!(forbidden["outcome"], "refused", "{forbidden}");
        assert_eq!(
            forbidden["caa"]["mpic"]["corroborated"], false,
            "{forbidden}"
        );
        let subproblems = forbidden["problem"]["subproblems"].as_array().unwrap();
        assert_eq!(subproblems.len(), 2, "{forbidden}");
        for i in [1, 3] {
            assert_eq!(
                forbidden["caa"]["mpic"]["answers"][i]["outcome"], "disagreed",
                "{forbidden}"
            );
        }
    })
    .await;
}

/// The value of the sample `series` (name and labels exactly as rendered) in `metrics`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().unwrap())
    })
}

async fn metrics(d: &Deployment) -> String {
    let r = ferrite_testkit::raw::http_get(&format!("{}/metrics", d.ca.admin_url)).await;
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap()
}

/// `/metrics` shows each configured perspective's answers by outcome and latency, and the
/// corroborations by result: a perspective that is down is counted unreachable, two down
/// refuse by the quorum. Nothing the agents or the client sent becomes a label.
#[tokio::test]
async fn metrics_show_each_perspective_and_the_decisions() {
    bounded(async {
        let d = deploy(
            &[Agrees, Agrees, Down, Agrees, Agrees],
            MpicMode::Enforce,
            3000,
        )
        .await;
        order(&d).await.unwrap();
        let text = metrics(&d).await;
        let series = |name: &str, labels: &str| sample(&text, &format!("{name}{{{labels}}}"));
        // The http-01 validation and the CAA check, each corroborated.
        for check in ["http-01", "caa"] {
            assert_eq!(
                series(
                    "ferrite_mpic_corroborations_total",
                    &format!(r#"check="{check}",mode="enforce",result="corroborated""#)
                ),
                Some(1.0),
                "{text}"
            );
        }
        // The down perspective: unreachable (answered at once, before the quorum was
        // certain), never agreeing.
        let p2 = r#"perspective="p2",region="region-2""#;
        assert!(
            series(
                "ferrite_mpic_perspective_requests_total",
                &format!(r#"{p2},outcome="unreachable""#)
            )
            .unwrap()
                >= 1.0,
            "{text}"
        );
        assert_eq!(
            series(
                "ferrite_mpic_perspective_requests_total",
                &format!(r#"{p2},outcome="agree""#)
            ),
            Some(0.0),
            "{text}"
        );
        // The others agreed, and their latency is counted.
        let mut agreed = 0.0;
        for i in [0, 1, 3, 4] {
            let p = format!(r#"perspective="p{i}",region="region-{i}""#);
            agreed += series(
                "ferrite_mpic_perspective_requests_total",
                &format!(r#"{p},outcome="agree""#),
            )
            .unwrap();
            assert_eq!(
                series(
                    "ferrite_mpic_perspective_requests_total",
                    &format!(r#"{p},outcome="disagree""#)
                ),
                Some(0.0),
                "{text}"
            );
            let answered = series("ferrite_mpic_perspective_latency_seconds_count", &p).unwrap();
            assert!(answered >= 1.0, "{text}");
            assert_eq!(
                series(
                    "ferrite_mpic_perspective_latency_seconds_bucket",
                    &format!(r#"{p},le="+Inf""#)
                ),
                Some(answered),
                "{text}"
            );
        }
        // Two checks, four agreeing answers each decide them.
        assert_eq!(agreed, 8.0, "{text}");
        assert!(!text.contains(DOMAIN), "the identifier is in the metrics");
        // Every MPIC series the Grafana dashboard in docs/ queries is exported.
        let dashboard = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../docs/grafana-dashboard.json"),
        )
        .unwrap();
        let mut queried = 0;
        for word in dashboard.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("ferrite_mpic_") {
                let base = word.trim_end_matches("_bucket");
                assert!(
                    text.contains(&format!("# TYPE {base} ")),
                    "the dashboard queries {word}, which /metrics does not export"
                );
                queried += 1;
            }
        }
        assert!(queried >= 3, "the dashboard has the perspectives' panels");

        // Two down: the quorum refuses, counted as such.
        let d = deploy(
            &[Down, Agrees, Agrees, Down, Agrees],
            MpicMode::Enforce,
            3000,
        )
        .await;
        order(&d).await.unwrap_err();
        let text = metrics(&d).await;
        assert_eq!(
            sample(
                &text,
                r#"ferrite_mpic_corroborations_total{check="http-01",mode="enforce",result="refused"}"#
            ),
            Some(1.0),
            "{text}"
        );
        for down in [0, 3] {
            let unreachable = format!(
                r#"ferrite_mpic_perspective_requests_total{{perspective="p{down}",region="region-{down}",outcome="unreachable"}}"#
            );
            assert!(sample(&text, &unreachable).unwrap() >= 1.0, "{text}");
        }
    })
    .await;
}

/// The agent itself, without the network: a request is answered once, and not after it
/// expires or when it is valid for too long.
#[tokio::test]
async fn agents_refuse_replayed_and_expired_requests() {
    bounded(async {
        let dns = MockDns::start().await.unwrap();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let agent = Agent::new(
            "p0".into(),
            "region-0".into(),
            Arc::new(ferrite_testkit::ca::test_va(&dns, 1, 1, false)),
            ResultSigner::from_pkcs8(&key.serialize_der()).unwrap(),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let request = |id: &str, expires: u64| {
            serde_json::to_vec(&PerspectiveRequest {
                request_id: id.into(),
                identifier: DOMAIN.into(),
                check: Check::Caa {
                    wildcard: false,
                    account_uri: "https://ca.test/acme/acct/1".into(),
                    method: None,
                    issuer_domains: vec!["ca.test".into()],
                },
                expires,
            })
            .unwrap()
        };
        let once = request("r1", now + 30);
        agent.check(&once).await.unwrap();
        let again = agent.check(&once).await.unwrap_err();
        assert_eq!(again.status.as_u16(), 409, "{again:?}");
        let expired = agent.check(&request("r2", now - 5)).await.unwrap_err();
        assert_eq!(expired.status.as_u16(), 400);
        assert!(expired.detail.contains("expired"), "{expired:?}");
        let too_long = agent.check(&request("r3", now + 3600)).await.unwrap_err();
        assert_eq!(too_long.status.as_u16(), 400);
        let not_a_name = agent
            .check(&serde_json::to_vec(&serde_json::json!({"request_id": "r4"})).unwrap())
            .await
            .unwrap_err();
        assert_eq!(not_a_name.status.as_u16(), 400);
    })
    .await;
}

/// One agent enrolled as `p0` (region-0) from `bundle` by `primary`, with its own DNS, served
/// on a loopback port until the returned sender is dropped.
struct LoneAgent {
    addr: std::net::SocketAddr,
    _dns: MockDns,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn lone_agent(primary: &Config, bundle: &std::path::Path) -> LoneAgent {
    ferrite_app::mpic::enroll(primary, "p0", "region-0", bundle).unwrap();
    let dns = MockDns::start().await.unwrap();
    let mut config = Config::default();
    config.validation.dns_resolver = dns.addr().to_string();
    config.validation.dnssec = false;
    let (agent, server_tls) = ferrite_app::mpic::agent(&config, bundle, None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ferrite_app::mpic::serve_agent(
        listener,
        agent,
        server_tls,
        async {
            let _ = rx.await;
        },
    ));
    LoneAgent {
        addr,
        _dns: dns,
        _stop: stop,
    }
}

/// Asks `remote` for a CAA check of `DOMAIN` with a new request id.
async fn ask_caa(
    remote: &ferrite_va::mpic::RemotePerspective,
) -> Result<ferrite_va::mpic::PerspectiveResult, ferrite_va::mpic::AskError> {
    let request = PerspectiveRequest {
        request_id: ferrite_core::ids::random_id(),
        identifier: DOMAIN.into(),
        check: Check::Caa {
            wildcard: false,
            account_uri: "https://ca.test/acme/acct/1".into(),
            method: None,
            issuer_domains: vec![],
        },
        expires: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30,
    };
    let body = serde_json::to_vec(&request).unwrap();
    remote.ask(body.into(), &request.request_id).await
}

/// Mutual TLS: an agent answers only a client holding the primary's MPIC certificate, and
/// the primary accepts only the certificate it enrolled for the perspective.
#[tokio::test]
async fn only_the_enrolled_primary_and_agent_talk() {
    bounded(async {
        use ferrite_va::mpic::{AskError, RemotePerspective, ResultVerifier, tls};
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};

        let dir = tempfile::tempdir().unwrap();
        let primary = Config {
            data_dir: dir.path().join("primary"),
            ..Config::default()
        };
        let other_primary = Config {
            data_dir: dir.path().join("other"),
            ..Config::default()
        };
        let bundle = dir.path().join("bundle");
        let agent = lone_agent(&primary, &bundle).await;
        // The same id enrolled by another primary: another MPIC CA, another certificate.
        ferrite_app::mpic::enroll(&other_primary, "p0", "region-0", &dir.path().join("b2"))
            .unwrap();
        let url = format!("https://{}", agent.addr);

        let read = |dir: &std::path::Path, name: &str| std::fs::read(dir.join(name)).unwrap();
        let cert = |pem: &[u8]| CertificateDer::from_pem_slice(pem).unwrap();
        let key = |pem: &[u8]| PrivateKeyDer::from_pem_slice(pem).unwrap();
        let mpic = primary.data_dir.join("mpic");
        let other = other_primary.data_dir.join("mpic");
        let perspective = PerspectiveConfig {
            id: "p0".into(),
            region: "region-0".into(),
            url,
        };
        let ask = |client_cert: Vec<u8>, client_key: Vec<u8>, pinned: Vec<u8>| {
            let perspective = perspective.clone();
            async move {
                let tls = tls::primary_client_config(
                    vec![cert(&client_cert)],
                    key(&client_key),
                    cert(&pinned),
                )
                .unwrap();
                let remote = RemotePerspective::new(
                    &perspective,
                    Arc::new(tls),
                    ResultVerifier::from_certificate(&cert(&pinned)).unwrap(),
                )
                .unwrap();
                ask_caa(&remote).await
            }
        };
        // The enrolled primary, pinning the enrolled certificate: answered.
        let ok = ask(
            read(&mpic, "primary.pem"),
            read(&mpic, "private/primary.key"),
            read(&mpic.join("agents"), "p0.pem"),
        )
        .await
        .unwrap();
        assert_eq!(ok.perspective, "p0");
        // Another primary's client certificate: the agent refuses the handshake.
        let refused = ask(
            read(&other, "primary.pem"),
            read(&other, "private/primary.key"),
            read(&mpic.join("agents"), "p0.pem"),
        )
        .await
        .unwrap_err();
        assert!(matches!(refused, AskError::Unreachable(_)), "{refused:?}");
        // An agent's certificate (serverAuth only) cannot pose as the primary.
        let refused = ask(
            read(&bundle, "agent.pem"),
            read(&bundle, "agent.key"),
            read(&mpic.join("agents"), "p0.pem"),
        )
        .await
        .unwrap_err();
        assert!(matches!(refused, AskError::Unreachable(_)), "{refused:?}");
        // Pinning another certificate than the agent presents: the primary refuses it.
        let refused = ask(
            read(&mpic, "primary.pem"),
            read(&mpic, "private/primary.key"),
            read(&other.join("agents"), "p0.pem"),
        )
        .await
        .unwrap_err();
        let AskError::Unreachable(detail) = &refused else {
            panic!("{refused:?}");
        };
        assert!(detail.contains("other than the one enrolled"), "{detail}");
    })
    .await;
}

/// The challenge POST's prompt answer (the head start) holds with five agents: the POST
/// itself answers `valid`. Prints the median time from the POST to that answer with five
/// agents and with none (docs/performance.md).
#[tokio::test]
async fn five_agents_keep_the_prompt_answer() {
    bounded(async {
        use ferrite_jose::Algorithm;
        use ferrite_testkit::RawAccount;

        const ROUNDS: usize = 15;
        let mut medians = Vec::new();
        for roles in [&[][..], &[Agrees; 5][..]] {
            let mode = if roles.is_empty() {
                MpicMode::Off
            } else {
                MpicMode::Enforce
            };
            let d = deploy(roles, mode, 3000).await;
            let raw = d.ca.raw();
            let account = RawAccount::register(&raw, Algorithm::ES256).await;
            let mut took = Vec::with_capacity(ROUNDS);
            for i in 0..ROUNDS {
                let name = format!("n{i}.{DOMAIN}");
                let (_, order) = d.ca.raw_new_order(&raw, &account, &[&name]).await;
                let authz_url = order["authorizations"][0].as_str().unwrap();
                let authz = raw
                    .post_as_get(&account.key, &account.kid, authz_url)
                    .await
                    .json();
                let challenge = ferrite_testkit::challenge(&authz, "http-01");
                let token = challenge["token"].as_str().unwrap();
                let ka = account.key_authorization(token);
                d.ca.http01.set(token, &ka);
                for agent in &d.agents {
                    agent.http01.set(token, &ka);
                }
                let url = challenge["url"].as_str().unwrap();
                let began = Instant::now();
                let r = raw
                    .post(
                        &account.key,
                        Some(&account.kid),
                        url,
                        Some(&serde_json::json!({})),
                    )
                    .await;
                took.push(began.elapsed());
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                assert_eq!(r.json()["status"], "valid", "{}", r.json());
            }
            took.sort();
            medians.push(took[ROUNDS / 2]);
        }
        println!(
            "challenge POST to valid, median of {ROUNDS}: no agents {:?}, five agents {:?}",
            medians[0], medians[1]
        );
    })
    .await;
}

/// Connection reuse: the median time of a corroborated CAA check with five agents, each
/// request on a new connection (`mpic.pool_size = 0`) and on kept ones (the default),
/// interleaved in one run (docs/performance.md). Both must corroborate every check.
#[tokio::test]
async fn kept_connections_shorten_corroboration() {
    bounded(async {
        use ferrite_core::CaaRequest;

        const ROUNDS: usize = 40;
        let d = deploy(&[Agrees; 5], MpicMode::Enforce, 3000).await;
        let corroborator = |pool_size: usize| {
            let config = Config {
                data_dir: d.ca.data_dir().to_owned(),
                mpic: Mpic {
                    mode: MpicMode::Enforce,
                    timeout_ms: 3000,
                    perspectives: d.perspectives.clone(),
                    pool_size,
                    ..Mpic::default()
                },
                ..Config::default()
            };
            let primary = Arc::new(ferrite_testkit::ca::test_va(
                &d.ca.dns,
                d.ca.http01.port(),
                1,
                false,
            ));
            let c = ferrite_app::mpic::corroborated(&config, primary).unwrap();
            (c.validator, c.metrics.unwrap())
        };
        let variants = [("new connection per request", 0), ("kept connections", 8)]
            .map(|(name, pool_size)| (name, corroborator(pool_size)));
        let request = CaaRequest {
            domain: DOMAIN.into(),
            wildcard: false,
            account_uri: "https://ca.test/acme/acct/1".into(),
            method: None,
            issuer_domains: vec!["ca.test".into()],
        };
        let mut took: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); variants.len()];
        for _ in 0..ROUNDS {
            for (i, (_, (validator, _))) in variants.iter().enumerate() {
                let began = Instant::now();
                validator.check_caa(&request).await.unwrap();
                took[i].push(began.elapsed());
            }
        }
        let mut line = format!("corroborated CAA check, five agents, median of {ROUNDS}:");
        for ((name, (_, metrics)), took) in variants.iter().zip(&mut took) {
            took.sort();
            line.push_str(&format!(" {name} {:?};", took[ROUNDS / 2]));
            let agreed: u64 = metrics.perspectives().iter().map(|p| p.outcomes[0].1).sum();
            // Four agreeing answers decide each check; a fifth may not be awaited.
            assert!(agreed >= 4 * ROUNDS as u64, "{name}: {agreed} agreed");
        }
        println!("{line}");
    })
    .await;
}

/// A TCP relay in front of an agent that counts the connections it accepts and can cut
/// every one of them, as an agent closing idle connections or restarting would.
struct Relay {
    addr: std::net::SocketAddr,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    open: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let open = Arc::new(std::sync::Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let accepted = accepted.clone();
            let open = open.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let relay = tokio::spawn(async move {
                        let mut agent = tokio::net::TcpStream::connect(upstream).await.unwrap();
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut agent).await;
                    });
                    open.lock().unwrap().push(relay);
                }
            }
        });
        Relay {
            addr,
            accepted,
            open,
            accept,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes every relayed connection (both ends).
    fn cut(&self) {
        for relay in self.open.lock().unwrap().drain(..) {
            relay.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The primary keeps its connection to an agent: consecutive checks use one connection; one
/// the agent side closed is replaced by a new one and the check still answers; with
/// `pool_size = 0` every check opens its own.
#[tokio::test]
async fn a_kept_connection_is_reused_and_replaced_once_closed() {
    bounded(async {
        use ferrite_va::mpic::{ConnectionSettings, RemotePerspective, ResultVerifier, tls};
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};

        let dir = tempfile::tempdir().unwrap();
        let primary = Config {
            data_dir: dir.path().join("primary"),
            ..Config::default()
        };
        let agent = lone_agent(&primary, &dir.path().join("bundle")).await;
        let relay = Relay::start(agent.addr).await;

        let mpic = primary.data_dir.join("mpic");
        let read = |path: std::path::PathBuf| std::fs::read(path).unwrap();
        let pinned = CertificateDer::from_pem_slice(&read(mpic.join("agents/p0.pem"))).unwrap();
        let remote = |pool_size: usize| {
            let tls = tls::primary_client_config(
                vec![CertificateDer::from_pem_slice(&read(mpic.join("primary.pem"))).unwrap()],
                PrivateKeyDer::from_pem_slice(&read(mpic.join("private/primary.key"))).unwrap(),
                pinned.clone(),
            )
            .unwrap();
            RemotePerspective::new(
                &PerspectiveConfig {
                    id: "p0".into(),
                    region: "region-0".into(),
                    url: format!("https://{}", relay.addr),
                },
                Arc::new(tls),
                ResultVerifier::from_certificate(&pinned).unwrap(),
            )
            .unwrap()
            .with_connections(ConnectionSettings {
                pool_size,
                ..ConnectionSettings::default()
            })
        };
        let ask = |remote: RemotePerspective| async move {
            assert_eq!(ask_caa(&remote).await.unwrap().perspective, "p0");
        };

        let kept = remote(8);
        for _ in 0..3 {
            ask(kept.clone()).await;
        }
        assert_eq!(relay.accepted(), 1, "three checks, one connection");
        // The agent's side goes away; the next check opens a new connection.
        relay.cut();
        ask(kept.clone()).await;
        ask(kept).await;
        assert_eq!(relay.accepted(), 2);

        let fresh = remote(0);
        for _ in 0..3 {
            ask(fresh.clone()).await;
        }
        assert_eq!(relay.accepted(), 5, "pool_size = 0: a connection per check");
    })
    .await;
}
