//! The class reference gdext builds from our doc comments (what the editor's Search Help shows).
//!
//! `STEAMNET_DOCS_OUT=DIR cargo test -p steamnet-godot --test class_reference` writes one XML file
//! per class into DIR; `tests/docs/check.sh` lets Godot's `--doctool` merge them with the classes
//! as ClassDB registers them and fails on anything left without a description.

// Linking the library is what puts its classes' documentation in this binary.
use steamnet as _;

#[test]
fn every_class_has_a_reference_page() {
    let pages: Vec<String> = godot::docs::__gather_xml_docs().collect();
    for class in ["SteamNetworkingSockets", "SteamMultiplayerPeer"] {
        let page = pages.iter().find(|xml| xml.contains(&format!("<class name=\"{class}\"")));
        let page = page.unwrap_or_else(|| panic!("no class reference for {class}"));
        assert!(page.contains("<method name="), "{class}'s reference lists no methods");
    }
    if let Some(dir) = std::env::var_os("STEAMNET_DOCS_OUT") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for page in &pages {
            let name = page.split("<class name=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
            std::fs::write(dir.join(format!("{name}.xml")), page).unwrap();
        }
    }
}
