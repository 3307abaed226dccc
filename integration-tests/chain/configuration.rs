//! Each service's configuration from an empty environment: every default in `tutorial-common/src/vars.rs` parses.

use std::time::Duration;

use tutorial_common::config::FromEnv;

#[test]
fn every_service_starts_from_an_empty_environment_with_the_tables_defaults() {
    // Arrange
    let unset = |_: &str| None;
    // Act
    let customer = customer::Config::from_lookup(unset).expect("customer defaults");
    let preference = preference::Config::from_lookup(unset).expect("preference defaults");
    let recommendation =
        recommendation::Config::from_lookup(unset).expect("recommendation defaults");
    let standin = worldclock_standin::Config::from_lookup(unset).expect("stand-in defaults");
    // Assert
    assert_eq!(customer.preference_url.as_str(), "http://preference:8080/");
    assert_eq!(customer.preference_timeout, Duration::from_secs(30));
    assert_eq!(
        preference.recommendation_url.as_str(),
        "http://recommendation:8080/"
    );
    assert_eq!(recommendation.version, recommendation::Version::V1);
    assert_eq!(recommendation.worldclock_timeout, Duration::from_secs(5));
    assert_eq!(recommendation.worldclock_proxy, None);
    assert_eq!(standin.fault, worldclock_standin::fault::Fault::None);
    for server in [&customer.server, &recommendation.server, &standin.server] {
        assert_eq!(server.port, 8080);
        assert_eq!(server.bind_address.to_string(), "0.0.0.0");
        assert_eq!(server.shutdown_timeout, Duration::from_secs(10));
    }
}
