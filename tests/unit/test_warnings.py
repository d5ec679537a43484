"""Stack warnings: one line per distinct warning, however many tenants it concerns."""

from mlplatform.platform import grouped


def test_the_same_warning_for_many_tenants_is_one_line_naming_the_first_few():
    many = [f"tenants[{i}].podSecurity: restricted refuses KFP" for i in range(1000)]
    assert grouped([*many, "tenants[3].quota.cpu: above", "metricsServer: insecure"]) == [
        "tenants[0], tenants[1], tenants[2] and 997 more: podSecurity: restricted refuses KFP",
        "tenants[3].quota.cpu: above",
        "metricsServer: insecure",
    ]


def test_a_warning_for_one_tenant_keeps_its_path():
    assert grouped(["tenants[4].podSecurity: x"]) == ["tenants[4].podSecurity: x"]
