from mlplatform.components.rbac import AGGREGATE_LABEL, TENANT_ROLES, TIERS


def _roles(g):
    return {o.name: o.obj for o in g.objects() if o.kind == "ClusterRole"}


def _granted(roles, tier):
    """(group, resource, verb) triples the aggregated tenant role of `tier` grants."""
    selectors = roles[TENANT_ROLES[tier]]["aggregationRule"]["clusterRoleSelectors"]
    labels = [next(iter(s["matchLabels"].items())) for s in selectors]
    out = set()
    for role in roles.values():
        if any(role["metadata"]["labels"].get(k) == v for k, v in labels):
            for rule in role["rules"]:
                out |= {
                    (g, r, v)
                    for g in rule["apiGroups"]
                    for r in rule["resources"]
                    for v in rule["verbs"]
                }
    return out


def test_tenant_roles_nest_view_edit_admin(program):
    roles = _roles(program("dev"))
    view, edit, admin = (_granted(roles, t) for t in TIERS)
    assert view < edit < admin
    assert ("kubeflow.org", "pytorchjobs", "create") in edit - view
    assert ("trainer.kubeflow.org", "trainjobs", "create") in edit
    assert ("serving.kserve.io", "inferenceservices", "delete") in edit
    assert ("pipelines.kubeflow.org", "runs", "create") in edit
    assert ("rbac.authorization.k8s.io", "rolebindings", "create") in admin - edit


def test_local_queues_are_read_only_for_every_tier(program):
    roles = _roles(program("dev"))
    for tier in TIERS:
        kueue = {(r, v) for g, r, v in _granted(roles, tier) if g == "kueue.x-k8s.io"}
        assert ("localqueues", "get") in kueue
        assert not {v for _, v in kueue} - {"get", "list", "watch"}, tier


def test_area_roles_carry_exactly_one_tier_label(program):
    for name, role in _roles(program("dev")).items():
        if name in TENANT_ROLES.values():
            assert role["rules"] == []
            continue
        if not name.startswith("mlplatform-"):
            continue  # a component's own role (e.g. kfam's read-only role), not an area role
        tier_labels = [
            k for k in role["metadata"]["labels"] if k.startswith(AGGREGATE_LABEL.split("{")[0])
        ]
        assert len(tier_labels) == 1, name
