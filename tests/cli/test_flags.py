"""The core names fields; the CLI adds the flag the user typed (and `cli_message` spells fields as flags)."""

from wafersim.cli.flags import cli_message, flag
from wafersim.cli.main import main
from wafersim.errors import WafersimError


def test_fields_become_flags():
    assert flag("slo_ttft_s") == "--slo-ttft" and flag("input_len") == "--input-len" and flag("tp") == "--tp"
    assert (
        cli_message(WafersimError("count must be ≥ 1, got 0", field="count")) == "--count must be ≥ 1, got 0"
    )
    both = WafersimError(
        "give either trace (a path or shipped name) or rate_rps and duration_s", field="trace"
    )
    assert cli_message(both) == "give either --trace (a path or shipped name) or --rate and --duration"
    # Only the field's own first mention, as a whole word; plain prose is left alone.
    assert cli_message(WafersimError("engine fast is needed: the cycle engine", field="engine")) == (
        "--engine fast is needed: the cycle engine"
    )
    assert cli_message(WafersimError("no field here")) == "no field here"


def test_the_cli_names_the_flag_beside_the_field(capsys):
    code = main(["estimate", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "0",
                 "--input-len", "10", "--output-len", "10"])  # fmt: skip
    assert code == 2 and "error: count must be ≥ 1, got 0 (option --count)" in capsys.readouterr().err
    code = main(["capacity", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1",
                 "--slo-ttft", "0", "--slo-tpot", "0.1", "--input-len", "10", "--output-len", "10",
                 "--synthetic-requests", "20"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "slo_ttft_s must be" in err and "got 0.0 (option --slo-ttft)" in err
    # A field whose flag is spelt differently (engines -> --replicas) is named by that flag.
    code = main(["serve", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1", "--replicas", "0",
                 "--rate", "1", "--duration", "1"])  # fmt: skip
    assert code == 2 and "(option --replicas)" in capsys.readouterr().err
