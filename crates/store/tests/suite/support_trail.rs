//! Conformance for the support trail: refused requests kept in batches, found by request id,
//! the first write of an id kept, and purged by age.

use ferrite_core::Store;
use ferrite_core::model::RefusedRequest;
use time::Duration;

use super::T0;

fn refused(id: &str, at: time::OffsetDateTime, account: Option<&str>) -> RefusedRequest {
    RefusedRequest {
        request_id: id.to_owned(),
        at,
        listener: "acme".to_owned(),
        method: "POST".to_owned(),
        path: "/acme/new-order".to_owned(),
        status: 400,
        problem: "urn:ietf:params:acme:error:malformed".to_owned(),
        detail: format!("refused {id}"),
        account_id: account.map(str::to_owned),
        customer_id: account.map(|_| "cust".to_owned()),
        client: Some("127.0.0.1".to_owned()),
    }
}

pub(crate) async fn refused_requests_are_kept_found_and_purged(store: &dyn Store) {
    store.record_refused_requests(&[]).await.unwrap();
    let old = refused("old", T0 - Duration::days(31), None);
    let new = refused("new", T0, Some("acct"));
    store
        .record_refused_requests(&[old.clone(), new.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.refused_request("new").await.unwrap(),
        Some(new.clone())
    );
    assert_eq!(store.refused_request("old").await.unwrap(), Some(old));
    assert_eq!(store.refused_request("nosuch").await.unwrap(), None);

    // A batch repeating a kept id keeps the first write and stores the rest of the batch.
    let again = RefusedRequest {
        detail: "rewritten".to_owned(),
        ..new.clone()
    };
    let other = refused("other", T0 + Duration::seconds(1), None);
    store
        .record_refused_requests(&[again, other.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.refused_request("new").await.unwrap(),
        Some(new.clone())
    );
    assert_eq!(store.refused_request("other").await.unwrap(), Some(other));

    // Purged by when they were answered: only those before the cut.
    assert_eq!(
        store
            .purge_refused_requests(T0 - Duration::days(30))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.refused_request("old").await.unwrap(), None);
    assert_eq!(store.refused_request("new").await.unwrap(), Some(new));

    // A large batch (one write).
    let many: Vec<RefusedRequest> = (0..300)
        .map(|i| refused(&format!("many-{i}"), T0, Some("acct")))
        .collect();
    store.record_refused_requests(&many).await.unwrap();
    assert_eq!(
        store.refused_request("many-299").await.unwrap(),
        Some(many[299].clone())
    );
}
