//! The search-index sink end to end: a real broker, the connect runtime, and its index
//! searched through the REST API over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::{json, Value};

/// The query endpoint of one runtime.
struct Search {
    client: reqwest::Client,
    base: String,
}

impl Search {
    fn new(runtime: &runnel_connect::ConnectRuntime) -> Search {
        Search {
            client: reqwest::Client::new(),
            base: format!("http://{}", runtime.rest_address()),
        }
    }

    /// The status and body of `GET /connectors/{name}/search` with `params`.
    async fn get(&self, name: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/connectors/{name}/search", self.base),
            params,
        )
        .unwrap();
        let response = self.client.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The hits of a query that must succeed.
    async fn hits(&self, name: &str, query: &str) -> Vec<Value> {
        let (status, body) = self.get(name, &[("q", query), ("limit", "1000")]).await;
        assert_eq!(status, 200, "{query}: {body}");
        body["hits"].as_array().unwrap().clone()
    }
}

fn search_connector(dir: &Path, name: &str, topic: &str, index_dir: &Path) {
    let index_dir = index_dir.display().to_string();
    write_connector(
        dir,
        &[
            ("name", name),
            ("connector.class", "search"),
            ("topics", topic),
            ("tasks.max", "2"),
            ("batch.size", "50"),
            ("search.index.dir", &index_dir),
            // The key {"id": N} becomes N, so `_key:N` finds its document.
            ("transforms", "id"),
            ("transforms.id.type", "ExtractField$Key"),
            ("transforms.id.field", "id"),
        ],
    );
}

async fn written(runtime: &runnel_connect::ConnectRuntime, name: &str) -> u64 {
    status(runtime, name)
        .await
        .tasks
        .iter()
        .map(|t| t.records_written)
        .sum()
}

/// Checks that the index holds exactly the fold: one document per live key, with its
/// latest version, found by its key and by the words of its value; none for deleted keys.
async fn assert_index_is_the_fold(
    search: &Search,
    name: &str,
    fold: &BTreeMap<i64, i64>,
    keys: i64,
) {
    let all = search.hits(name, "*").await;
    assert_eq!(all.len(), fold.len(), "one document per live key");
    for id in 0..keys {
        let by_key = search.hits(name, &format!("_key:{id}")).await;
        match fold.get(&id) {
            None => assert!(
                by_key.is_empty(),
                "deleted key {id} still found: {by_key:?}"
            ),
            Some(version) => {
                assert_eq!(by_key.len(), 1, "key {id}: {by_key:?}");
                assert_eq!(by_key[0]["key"], json!(id));
                assert_eq!(by_key[0]["document"]["version"], json!(version));
                // The note "n<version>" is a word of the latest value only.
                let by_word = search.hits(name, &format!("n{version}")).await;
                assert_eq!(by_word.len(), 1, "word n{version}: {by_word:?}");
                assert_eq!(by_word[0]["key"], json!(id));
                let by_field = search.hits(name, &format!("note:n{version}")).await;
                assert_eq!(by_field.len(), 1, "note:n{version}: {by_field:?}");
                assert!(by_field[0]["score"].as_f64().unwrap() > 0.0);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_index_ends_equal_to_the_fold_and_a_restart_resumes_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("users", 3).await;
    let (records, _) = random_changes(&mut Random::new(11), 0..2_000, 100);
    produce(&broker.producer(), "users", &records).await;
    let connectors = dir.path().join("connectors");
    let index_dir = dir.path().join("indexes");
    search_connector(&connectors, "users-search", "users", &index_dir);

    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("the tasks index every record", || async {
        written(&runtime, "users-search").await == 2_000
    })
    .await;
    let search = Search::new(&runtime);
    assert_index_is_the_fold(&search, "users-search", &fold_of(&records), 100).await;
    assert!(index_dir.join("users-search").join("meta.json").exists());
    runtime.shutdown().await;

    // Restarted without its Kafka offsets, the connector resumes at the positions committed
    // with the index instead of indexing the whole topic again.
    forget_group_offsets(&broker.bootstrap, "connect-users-search").await;
    let (more, _) = random_changes(&mut Random::new(12), 2_000..2_010, 100);
    produce(&broker.producer(), "users", &more).await;
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("the tasks index the new records", || async {
        written(&runtime, "users-search").await >= 10
    })
    .await;
    let again = written(&runtime, "users-search").await;
    assert!(
        (10..100).contains(&again),
        "{again} records were indexed again"
    );
    let mut all = records.clone();
    all.extend(more);
    let search = Search::new(&runtime);
    assert_index_is_the_fold(&search, "users-search", &fold_of(&all), 100).await;
    runtime.shutdown().await;
    broker.stop().await;
}

/// The latest version of every key of `records` that was not deleted last.
fn fold_of(records: &[(String, Option<String>)]) -> BTreeMap<i64, i64> {
    let mut fold = BTreeMap::new();
    for (key, value) in records {
        let id = serde_json::from_str::<Value>(key).unwrap()["id"]
            .as_i64()
            .unwrap();
        match value {
            Some(value) => {
                let value: Value = serde_json::from_str(value).unwrap();
                fold.insert(id, value["version"].as_i64().unwrap());
            }
            None => {
                fold.remove(&id);
            }
        }
    }
    fold
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debezium_events_and_chosen_fields_are_indexed_and_bad_queries_answer_400() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start(&dir.path().join("broker")).await;
    broker.create_topic("shop.articles", 1).await;
    let event = |op: &str, after: Value| {
        Some(json!({"before": null, "after": after, "op": op, "source": {}}).to_string())
    };
    let article = |title: &str, body: &str, stock: i64| json!({"title": title, "body": body, "stock": stock, "sku": "never-indexed"});
    let events = vec![
        (
            "\"a1\"".to_owned(),
            event("c", article("Rust streams", "log compaction", 3)),
        ),
        (
            "\"a2\"".to_owned(),
            event("c", article("Kafka wire", "fetch sessions", 5)),
        ),
        (
            "\"a3\"".to_owned(),
            event("r", article("Tantivy", "inverted index", 1)),
        ),
        (
            "\"a1\"".to_owned(),
            event("u", article("Rust pipelines", "log compaction", 4)),
        ),
        (
            "\"a2\"".to_owned(),
            Some(
                json!({"before": article("Kafka wire", "", 5), "after": null, "op": "d"})
                    .to_string(),
            ),
        ),
        ("\"a3\"".to_owned(), None),
    ];
    produce(&broker.producer(), "shop.articles", &events).await;
    let connectors = dir.path().join("connectors");
    let index_dir = dir.path().join("indexes").display().to_string();
    write_connector(
        &connectors,
        &[
            ("name", "articles"),
            ("connector.class", "search"),
            ("topics", "shop.articles"),
            ("search.index.dir", &index_dir),
            ("search.fields", "title,body,stock"),
        ],
    );
    write_connector(
        &connectors,
        &[
            ("name", "cache"),
            ("connector.class", "redis"),
            ("topics", "shop.articles"),
            ("redis.url", "redis://127.0.0.1:1/0"),
            ("errors.retry.delay.max.ms", "50"),
        ],
    );
    let runtime = start_connect(&broker.bootstrap, &connectors).await;
    wait_until("every event is indexed", || async {
        written(&runtime, "articles").await == 6
    })
    .await;
    let search = Search::new(&runtime);

    // The update replaced the created document; the Debezium delete and the tombstone
    // removed theirs.
    let all = search.hits("articles", "*").await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["key"], json!("a1"));
    assert_eq!(
        all[0]["document"],
        article("Rust pipelines", "log compaction", 4)
    );
    assert_eq!(all[0]["topic"], json!("shop.articles"));
    assert_eq!(all[0]["offset"], json!(3));
    for query in [
        "pipelines",
        "title:rust",
        "body:compaction",
        "stock:4",
        "_key:a1",
    ] {
        assert_eq!(search.hits("articles", query).await.len(), 1, "{query}");
    }
    for query in [
        "streams",
        "title:compaction",
        "kafka",
        "tantivy",
        "never",
        "sku:never",
    ] {
        assert!(search.hits("articles", query).await.is_empty(), "{query}");
    }
    let (status, body) = search
        .get("articles", &[("q", "rust"), ("limit", "1")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["hits"].as_array().unwrap().len(), 1);

    // Bad queries, with tantivy's reason.
    let (status, body) = search.get("articles", &[("q", "title:(rust")]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_code"], json!(400));
    assert!(
        body["message"].as_str().unwrap().contains("bad query"),
        "{body}"
    );
    let (status, body) = search.get("articles", &[]).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = search
        .get("articles", &[("q", "rust"), ("limit", "0")])
        .await;
    assert_eq!(status, 400, "{body}");
    // A connector that is not a search sink, and one that does not exist.
    let (status, body) = search.get("cache", &[("q", "rust")]).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("not a search sink"));
    let (status, _) = search.get("nothing", &[("q", "rust")]).await;
    assert_eq!(status, 404);
    runtime.shutdown().await;
    broker.stop().await;
}
