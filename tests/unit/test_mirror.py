from pathlib import Path

import pulumi
import pytest
import yaml

from mlplatform.graph import CHART, KUSTOMIZE
from mlplatform.mirror import image_transform, rewrite_image, split_registry

MIRROR = "mirror.corp:5000/ml"
RENDERED = list(
    yaml.safe_load_all((Path(__file__).parents[1] / "fixtures" / "rendered.yaml").read_text())
)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("busybox:1.36", "mirror.corp:5000/ml/library/busybox:1.36"),
        ("minio/mc", "mirror.corp:5000/ml/minio/mc"),
        ("docker.io/bitnami/kubectl:1.33", "mirror.corp:5000/ml/bitnami/kubectl:1.33"),
        ("registry.k8s.io/kueue/kueue:v0.14.4", "mirror.corp:5000/ml/kueue/kueue:v0.14.4"),
        ("localhost:5000/tools/debug:1", "mirror.corp:5000/ml/tools/debug:1"),
        ("quay.io/a/b@sha256:00", "mirror.corp:5000/ml/a/b@sha256:00"),
        ("mirror.corp:5000/ml/already/there:1", "mirror.corp:5000/ml/already/there:1"),
    ],
)
def test_rewrite_image_keeps_path_tag_and_digest(image, expected):
    assert rewrite_image(image, MIRROR) == expected


def test_split_registry_normalises_docker_hub():
    assert split_registry("nginx") == ("docker.io", "library/nginx")
    assert split_registry("index.docker.io/library/nginx:1") == ("docker.io", "library/nginx:1")


def _images(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "image" and isinstance(v, str):
                yield v
            else:
                yield from _images(v)
    elif isinstance(value, list):
        for v in value:
            yield from _images(v)


def test_transform_rewrites_every_image_in_rendered_objects():
    transform = image_transform(MIRROR)
    before = [img for obj in RENDERED for img in _images(obj)]
    assert len(before) == 10
    after = []
    for obj in RENDERED:
        args = pulumi.ResourceTransformArgs(
            custom=True,
            type_=f"kubernetes:x/v1:{obj['kind']}",
            name=obj["metadata"]["name"],
            props=obj,
            opts=pulumi.ResourceOptions(),
        )
        result = transform(args)
        after.extend(_images(result.props))
    assert len(after) == len(before)
    assert all(img.startswith(MIRROR + "/") for img in after), after


def test_transform_leaves_non_kubernetes_resources_alone():
    args = pulumi.ResourceTransformArgs(
        custom=True,
        type_="random:index/randomPassword:RandomPassword",
        name="p",
        props={"image": "x"},
        opts=pulumi.ResourceOptions(),
    )
    assert image_transform(MIRROR)(args) is None


def test_mirror_redirects_charts_and_kustomize_and_registers_the_transform(program):
    def mirrored(cfg):
        cfg["platform"]["mirror"] = {
            "registry": MIRROR,
            "charts": "oci://mirror.corp:5000/charts",
            "files": "https://files.corp/upstream",
        }

    g = program("dev", edit=mirrored)
    assert len(g.transforms) == 1
    for chart in g.of_type(CHART):
        assert chart.inputs["chart"].startswith("oci://mirror.corp:5000/charts/"), chart.name
        assert "repositoryOpts" not in chart.inputs
    for directory in g.of_type(KUSTOMIZE):
        assert not directory.inputs["directory"].startswith("github.com")
    for obj in g.objects():
        props = g.transforms[0](
            pulumi.ResourceTransformArgs(
                custom=True,
                type_="kubernetes:core/v1:X",
                name=obj.name,
                props=obj.obj,
                opts=pulumi.ResourceOptions(),
            )
        ).props
        assert all(i.startswith(MIRROR) for i in _images(props))


def test_mirror_also_serves_the_images_istios_injector_builds(program):
    """Sidecars and the gateway (`image: auto`) come from istiod's hub, not from a manifest."""

    def mirrored(cfg):
        cfg["platform"]["mirror"] = {"registry": MIRROR}

    istiod = program("dev", edit=mirrored).named("istiod", CHART)
    assert istiod.inputs["values"]["global"]["hub"] == f"{MIRROR}/istio"
    assert "hub" not in program("dev").named("istiod", CHART).inputs["values"]["global"]


def test_without_mirror_charts_use_upstream_repositories(program):
    g = program("dev")
    assert g.transforms == []
    assert (
        g.named("cert-manager", CHART).inputs["repositoryOpts"]["repo"]
        == "https://charts.jetstack.io"
    )
