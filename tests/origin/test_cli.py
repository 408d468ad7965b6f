import json

from typer.testing import CliRunner

from nodes.cli.main import app
from tests.origin.helpers import bom, mat

runner = CliRunner()


def write(tmp_path, body, name="bom.json"):
    p = tmp_path / name
    p.write_text(json.dumps(body) if not isinstance(body, str) else body)
    return str(p)


def run(*args):
    return runner.invoke(app, list(args))


def test_check_originating_json(tmp_path):
    f = write(tmp_path, bom(mat("854140", "300.00")))
    r = run(
        "origin",
        "check",
        "--agreement",
        "RCEP",
        "--product",
        "853890",
        "--bom",
        f,
        "--json",
        "--home",
        str(tmp_path / "home"),
    )
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["originating"] is True and j["criterion"] == "CTC"
    assert j["rules_version"] == "2026.1" and j["rule"] == "CTH or RVC40"


def test_check_not_originating_is_still_exit_0(tmp_path):
    f = write(tmp_path, bom(mat("853890", "700.00", description="housing")))
    r = run(
        "origin",
        "check",
        "--agreement",
        "RCEP",
        "--product",
        "853890",
        "--bom",
        f,
        "--home",
        str(tmp_path / "home"),
    )
    assert r.exit_code == 0
    assert "NOT ORIGINATING" in r.stdout and "housing" in r.stdout


def test_check_no_rule_data_exit_3(tmp_path):
    f = write(tmp_path, bom(mat("870899", "100.00")))
    r = run(
        "origin",
        "check",
        "--agreement",
        "RCEP",
        "--product",
        "870899",
        "--bom",
        f,
        "--home",
        str(tmp_path / "home"),
    )
    assert r.exit_code == 3
    assert "no-rule-data" in r.stderr and "chapter 87" in r.stderr


def test_check_invalid_input_exit_1(tmp_path):
    f = write(tmp_path, bom(mat("870899", "-1")))
    r = run("origin", "check", "--agreement", "RCEP", "--product", "853890", "--bom", f)
    assert r.exit_code == 1 and "/materials/0/value" in r.stderr
    f = write(tmp_path, "{not json", "broken.json")
    assert (
        run("origin", "check", "--agreement", "RCEP", "--product", "853890", "--bom", f).exit_code
        == 1
    )
    assert (
        run(
            "origin",
            "check",
            "--agreement",
            "RCEP",
            "--product",
            "8538",
            "--bom",
            write(tmp_path, bom()),
        ).exit_code
        == 1
    )
    assert (
        run(
            "origin",
            "check",
            "--agreement",
            "NOPE",
            "--product",
            "853890",
            "--bom",
            write(tmp_path, bom()),
        ).exit_code
        == 1
    )
    assert (
        run(
            "origin",
            "check",
            "--agreement",
            "RCEP",
            "--product",
            "853890",
            "--bom",
            str(tmp_path / "missing.json"),
        ).exit_code
        == 1
    )


def test_advise(tmp_path):
    f = write(tmp_path, bom(mat("854140", "300.00"), exporting="TH", importing="JP"))
    r = run(
        "origin",
        "advise",
        "--product",
        "853890",
        "--bom",
        f,
        "--json",
        "--home",
        str(tmp_path / "home"),
    )
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert "RCEP" in j["qualifies_under"]
    by = {x["agreement"]: x for x in j["results"]}
    assert set(by) >= {"RCEP", "AJCEP", "JTEPA"}
    # all three bind Thailand and Japan; JVEPA binds Viet Nam and Japan only
    assert all(by[a]["in_force"] for a in ("RCEP", "AJCEP", "JTEPA"))
    assert not by["JVEPA"]["in_force"] and "not in force" in by["JVEPA"]["summary"]
    human = run(
        "origin", "advise", "--product", "853890", "--bom", f, "--home", str(tmp_path / "home")
    )
    assert human.exit_code == 0 and "Qualifies under" in human.stdout
    bad = run("origin", "advise", "--product", "85389", "--bom", f)
    assert bad.exit_code == 1


def test_rules_load_then_check_uses_new_version(tmp_path):
    home = tmp_path / "home"
    table = write(
        tmp_path,
        "agreement,level,code,rule,description,source\n"
        "RCEP,chapter,87,CTH or RVC40,Vehicles,fuller table\n",
        "t.csv",
    )
    r = run("origin", "rules", "load", "--agreement", "RCEP", table, "--home", str(home))
    assert r.exit_code == 0, r.output
    f = write(tmp_path, bom(mat("870899", "200.00")))
    r = run(
        "origin",
        "check",
        "--agreement",
        "RCEP",
        "--product",
        "870899",
        "--bom",
        f,
        "--json",
        "--home",
        str(home),
    )
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["rules_version"] != "2026.1" and j["rule_source"] == "fuller table"


def test_rules_load_names_each_bad_row(tmp_path):
    table = write(
        tmp_path,
        "agreement,level,code,rule,description,source\n"
        "RCEP,chapter,87,CTH or RVC40,Vehicles,ok\n"
        "RCEP,heading,8709,CTH or XX,bad rule,src\n"
        "RCEP,heading,87100,CTH,bad code,src\n",
        "bad.csv",
    )
    r = run(
        "origin", "rules", "load", "--agreement", "RCEP", table, "--home", str(tmp_path / "home")
    )
    assert r.exit_code == 1
    assert "row 3" in r.stderr and "row 4" in r.stderr
    assert list((tmp_path / "home").glob("**/*.csv")) == []
