import pytest

from mlplatform import releases

EVERY_RELEASE_SHIPS = {
    "cert_manager",
    "istio",
    "minio",
    "monitoring",
    "dex",
    "oauth2_proxy",
    "kfp",
    "training_operator",
    "kueue",
    "kserve",
    "knative_serving",
    "nvidia_device_plugin",
}


@pytest.mark.parametrize("name", releases.available())
def test_every_release_file_loads_and_pins_every_component(name):
    release = releases.load(name)
    assert release.release == name
    assert set(release.components) >= EVERY_RELEASE_SHIPS
    for component in release.components.values():
        assert component.version


def test_releases_sorted_oldest_first():
    assert releases.available() == ["1.10", "1.11", "26.03"]


def test_kueue_api_switches_to_v1beta2_in_26_03():
    assert releases.load("1.11").component("kueue").api("kueue") == "kueue.x-k8s.io/v1beta1"
    assert releases.load("26.03").component("kueue").api("kueue") == "kueue.x-k8s.io/v1beta2"


def test_trainer_v2_only_where_the_release_ships_it():
    assert not releases.load("1.10").has("trainer")
    assert releases.load("1.11").component("trainer").num_proc_per_node_in == "runtime"
    # 26.03 pins Kubeflow 26.03's Trainer 2.1.0 too (Kueue 0.16 speaks its API).
    assert releases.load("26.03").component("trainer").num_proc_per_node_in == "runtime"


def test_kserve_mode_names_follow_upstream_rename():
    assert releases.load("1.11").component("kserve").deployment_modes == {
        "standard": "RawDeployment",
        "knative": "Serverless",
    }
    assert releases.load("26.03").component("kserve").deployment_modes == {
        "standard": "Standard",
        "knative": "Knative",
    }


def test_unknown_release_names_the_choices():
    with pytest.raises(KeyError, match=r"unknown platform release '9.9'.*1\.10"):
        releases.load("9.9")


def test_kubernetes_range():
    r = releases.load("1.10").kubernetes
    assert r.contains("1.31") and r.contains("1.33") and not r.contains("1.34")


def test_catalogue_rejects_a_source_with_two_kinds():
    with pytest.raises(ValueError, match="exactly one of helm, kustomize or manifest"):
        releases.Source.model_validate(
            {"helm": {"repo": "https://x", "chart": "c"}, "manifest": {"urls": ["https://y"]}}
        )
