//! Loading real XML files from a temporary HADOOP_CONF_DIR, `-conf` and `-D`.

use std::path::Path;
use std::time::Duration;

use ferrodfs_conf::{keys, Configuration, Error, GenericOptions};

fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn opts(args: &[&str]) -> GenericOptions {
    GenericOptions::parse(args.iter().map(|s| s.to_string())).unwrap()
}

const CORE: &str = r#"<?xml version="1.0"?>
<?xml-stylesheet type="text/xsl" href="configuration.xsl"?>
<configuration>
  <property>
    <name>fs.defaultFS</name>
    <value>hdfs://127.0.0.1:9000</value>
  </property>
  <property>
    <name>hadoop.tmp.dir</name>
    <value>/var/tmp/h-${user.name}</value>
  </property>
  <property>
    <name>my.unknown.key</name>
    <value>whatever</value>
    <description>unknown keys are kept and ignored</description>
  </property>
</configuration>
"#;

const HDFS: &str = r#"<?xml version="1.0"?>
<configuration>
  <!-- a comment -->
  <property>
    <name>dfs.replication</name>
    <value>1</value>
    <final>true</final>
  </property>
  <property>
    <name> dfs.blocksize </name>
    <value>64m</value>
  </property>
  <property name="dfs.heartbeat.interval" value="1"/>
  <property>
    <name>dfs.datanode.data.dir</name>
    <value>file://${hadoop.tmp.dir}/d1,${hadoop.tmp.dir}/d2</value>
  </property>
  <property>
    <name>dfs.namenode.name.dir</name>
    <value>&lt;escaped&gt;</value>
  </property>
</configuration>
"#;

#[test]
fn load_order_finals_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "core-site.xml", CORE);
    write(dir.path(), "hdfs-site.xml", HDFS);
    let extra = write(
        dir.path(),
        "extra.xml",
        r#"<configuration>
             <property><name>dfs.replication</name><value>5</value></property>
             <property><name>dfs.blocksize</name><value>32m</value></property>
           </configuration>"#,
    );
    let o = opts(&[
        "-conf",
        extra.to_str().unwrap(),
        "-D",
        "dfs.bytes-per-checksum=1024",
        "datanode",
    ]);
    let mut conf = Configuration::new();
    conf.set_system_property("user.name", "bob");
    conf.add_site_files(dir.path()).unwrap();
    o.apply(&mut conf).unwrap();

    assert_eq!(o.rest, vec!["datanode".to_string()]);
    // final in hdfs-site.xml: -conf cannot override it.
    assert!(conf.is_final(keys::DFS_REPLICATION));
    assert_eq!(conf.get_u64(keys::DFS_REPLICATION, 3).unwrap(), 1);
    // not final: the later resource wins.
    assert_eq!(conf.get_size(keys::DFS_BLOCK_SIZE, 0).unwrap(), 32 << 20);
    assert_eq!(conf.get_u64(keys::DFS_BYTES_PER_CHECKSUM, 0).unwrap(), 1024);
    assert_eq!(conf.source(keys::DFS_BYTES_PER_CHECKSUM), Some("-D"));
    assert_eq!(
        conf.get_duration(keys::DFS_HEARTBEAT_INTERVAL, Duration::ZERO)
            .unwrap(),
        Duration::from_secs(1)
    );
    assert_eq!(
        conf.get_strings(keys::DFS_DATANODE_DATA_DIR).unwrap(),
        vec![
            "file:///var/tmp/h-bob/d1".to_string(),
            "/var/tmp/h-bob/d2".to_string()
        ]
    );
    assert_eq!(
        conf.get(keys::DFS_NAMENODE_NAME_DIR).unwrap().unwrap(),
        "<escaped>"
    );
    assert_eq!(conf.get("my.unknown.key").unwrap().unwrap(), "whatever");
    let nn = conf.namenode_rpc_address().unwrap().unwrap();
    assert_eq!(nn.to_string(), "127.0.0.1:9000");

    // -D overrides even a final, as Hadoop's Configuration.set does.
    let mut conf2 = conf.clone();
    opts(&["-D", "dfs.replication=2"])
        .apply(&mut conf2)
        .unwrap();
    assert_eq!(conf2.get_u64(keys::DFS_REPLICATION, 3).unwrap(), 2);
}

#[test]
fn load_with_explicit_conf_dir_and_missing_site_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "hdfs-site.xml", HDFS);
    let conf = Configuration::load(Some(dir.path()), &opts(&["-fs", "hdfs://nn:1"])).unwrap();
    assert_eq!(conf.get_u64(keys::DFS_REPLICATION, 3).unwrap(), 1);
    assert_eq!(
        conf.get(keys::FS_DEFAULT_FS).unwrap().unwrap(),
        "hdfs://nn:1"
    );
    // No conf dir at all: defaults only.
    let conf = Configuration::load(None, &GenericOptions::default()).unwrap();
    assert_eq!(conf.get_u64(keys::DFS_REPLICATION, 0).unwrap(), 3);
}

#[test]
fn hadoop_conf_dir_from_env() {
    // The only test in this binary that touches the environment.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "core-site.xml", CORE);
    std::env::set_var("HADOOP_CONF_DIR", dir.path());
    let conf = Configuration::load_from_env(&GenericOptions::default()).unwrap();
    std::env::remove_var("HADOOP_CONF_DIR");
    assert_eq!(
        conf.get(keys::FS_DEFAULT_FS).unwrap().unwrap(),
        "hdfs://127.0.0.1:9000"
    );
}

#[test]
fn malformed_xml_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "hdfs-site.xml",
        "<configuration><property><name>x</name><value>1</value></configuration>",
    );
    let err = Configuration::load(Some(dir.path()), &GenericOptions::default()).unwrap_err();
    match &err {
        Error::Xml { path, .. } => assert_eq!(path, &bad),
        other => panic!("expected Xml error, got {other:?}"),
    }
    assert!(err.to_string().contains("hdfs-site.xml"));

    let wrong_root = write(dir.path(), "w.xml", "<conf></conf>");
    let mut conf = Configuration::new();
    assert!(matches!(
        conf.add_resource(&wrong_root),
        Err(Error::BadResource { .. })
    ));
    let no_name = write(
        dir.path(),
        "n.xml",
        "<configuration><property><value>1</value></property></configuration>",
    );
    assert!(matches!(
        conf.add_resource(&no_name),
        Err(Error::BadResource { .. })
    ));
    let missing = dir.path().join("missing.xml");
    assert!(matches!(
        conf.add_resource(&missing),
        Err(Error::Io { path, .. }) if path == missing
    ));
}
