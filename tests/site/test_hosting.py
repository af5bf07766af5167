"""Hosting configs: Read the Docs and GitHub Pages build the site with the README's command."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from sitebuild import ROOT

RTD = ROOT / ".readthedocs.yaml"
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"

# torch==2.13.0 from PyPI is the multi-GB CUDA build on Linux; hosted builds take the
# CPU wheel from PyTorch's index and everything else from PyPI.
CPU_INDEX = {
    "PIP_INDEX_URL": "https://download.pytorch.org/whl/cpu",
    "PIP_EXTRA_INDEX_URL": "https://pypi.org/simple",
}
ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)


@dataclass
class Readme:
    """What README.md promises: the build command (as shell words) and its output folder."""

    command: list[str]
    output: str


@pytest.fixture(scope="module")
def readme() -> Readme:
    """The `make html` line of the Set-up ```bash block, and where the README says it writes."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = re.search(r"^## Set-up\b.*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert setup, "README.md has no '## Set-up' section"
    block = re.search(r"^```bash\n(.*?)^```", setup.group(0), re.MULTILINE | re.DOTALL)
    assert block, "the Set-up section has no ```bash block"
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    html = [line for line in lines if line.startswith("make html")]
    assert len(html) == 1, lines
    written = re.search(r"`([^`]+)` writes the site to `([^`]+)`", setup.group(0))
    assert written, "the Set-up section does not say where the site is written"
    assert written.group(1) == html[0]
    return Readme(shlex.split(html[0]), written.group(2).rstrip("/"))


def split_env(command: str) -> tuple[dict[str, str], list[str]]:
    """Split a shell command into its leading VAR=value assignments and its other words."""
    words = shlex.split(command)
    env = {}
    while words and (match := ASSIGNMENT.fullmatch(words[0])):
        env[match.group(1)] = match.group(2)
        words.pop(0)
    return env, words


def load(path) -> dict:
    """Parse a YAML file; GitHub's `on:` key, which YAML 1.1 reads as True, becomes 'on'."""
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    if True in data:
        data["on"] = data.pop(True)
    return data


def uses(step: dict, action: str) -> bool:
    """Whether a workflow step uses `action` (any version)."""
    return str(step.get("uses", "")).startswith(f"{action}@")


def rtd_commands() -> list[tuple[dict[str, str], list[str]]]:
    """Read the Docs' build.commands, each split into its assignments and its words."""
    return [split_env(command) for command in load(RTD)["build"]["commands"]]


@dataclass
class Build:
    """The workflow, and the job and step in it that run the README's command."""

    workflow: dict
    job_id: str
    job: dict
    step: int


def workflow_build(readme: Readme) -> Build:
    """Find the workflow step whose `run` has a line that is the README's command."""
    workflow = load(WORKFLOW)
    for job_id, job in workflow["jobs"].items():
        for index, step in enumerate(job.get("steps", [])):
            lines = str(step.get("run", "")).splitlines()
            if any(split_env(line)[1] == readme.command for line in lines if line.strip()):
                return Build(workflow, job_id, job, index)
    pytest.fail(f"no workflow step runs {shlex.join(readme.command)!r}")


def test_readme_names_a_build_command_and_output(readme):
    """The README's Set-up section gives a make command and an html folder for the site."""
    assert readme.command[0] == "make"
    assert readme.output.endswith("/html")


def test_makefile_html_target_writes_where_the_readme_says(readme):
    """The Makefile target the README names runs sphinx-build into the README's folder."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = readme.command[1]
    recipe = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.MULTILINE)
    assert recipe, f"the Makefile has no {target!r} target"
    variables = dict(re.findall(r"^(\w+)\s*[:?]?=[ \t]*(.*?)\s*$", makefile, re.MULTILINE))
    assert variables["BUILDDIR"] + "/html" == readme.output
    builds = [line for line in recipe.group(1).splitlines() if "sphinx-build" in line]
    assert len(builds) == 1, recipe.group(1)
    line = builds[0]
    for _ in range(5):  # expand $(NAME) the way make does, for simple variables
        line = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), line)
    words = shlex.split(line)
    assert words[words.index("-b") + 1] == "html"
    assert words[-1] == readme.output


def test_rtd_config_is_v2_on_ubuntu_2404_and_python_311():
    """.readthedocs.yaml is a version 2 config on Ubuntu 24.04 with Python 3.11."""
    config = load(RTD)
    assert config["version"] == 2
    assert config["build"]["os"] == "ubuntu-24.04"
    assert config["build"]["tools"] == {"python": "3.11"}


def test_rtd_builds_with_the_readme_command_only(readme):
    """Read the Docs runs the README's command itself, not its own Sphinx or pip steps."""
    config = load(RTD)
    # build.commands replaces the whole build: these keys would be ignored or refused.
    assert not {"sphinx", "mkdocs", "python", "conda"} & set(config)
    assert "jobs" not in config["build"]
    assert [words for _, words in rtd_commands()].count(readme.command) == 1


def test_rtd_publishes_the_readme_output_folder(readme):
    """After the build, the README's folder is copied to $READTHEDOCS_OUTPUT/html."""
    commands = [words for _, words in rtd_commands()]
    built = commands.index(readme.command)
    copies = [
        i
        for i, words in enumerate(commands)
        if words[:2] == ["cp", "-r"]
        and len(words) == 4
        and words[2].rstrip("/") == readme.output
        and words[3].rstrip("/") == "$READTHEDOCS_OUTPUT/html"
    ]
    assert copies and copies[0] > built, commands
    made = [
        i
        for i, words in enumerate(commands)
        if words[:2] == ["mkdir", "-p"] and words[2].rstrip("/") == "$READTHEDOCS_OUTPUT"
    ]
    assert made and made[0] < copies[0], commands


def test_rtd_build_takes_torch_from_the_cpu_index(readme):
    """The RTD command running the README's command sets pip's index to PyTorch's CPU wheels."""
    (env,) = [env for env, words in rtd_commands() if words == readme.command]
    assert {name: env.get(name) for name in CPU_INDEX} == CPU_INDEX


def test_workflow_runs_on_push_to_main_and_by_hand():
    """The Pages workflow runs on pushes to main and on demand, with Pages permissions."""
    workflow = load(WORKFLOW)
    assert "main" in workflow["on"]["push"]["branches"]
    assert "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert workflow["concurrency"]["group"] == "pages"


def test_workflow_builds_with_the_readme_command_on_python_311(readme):
    """The build job checks out, sets up Python 3.11, then runs the README's command."""
    build = workflow_build(readme)
    steps = build.job["steps"]
    checkouts = [i for i, step in enumerate(steps) if uses(step, "actions/checkout")]
    setups = [i for i, step in enumerate(steps) if uses(step, "actions/setup-python")]
    assert checkouts and checkouts[0] < build.step
    assert setups and checkouts[0] < setups[0] < build.step
    assert str(steps[setups[0]]["with"]["python-version"]) == "3.11"


def test_workflow_build_takes_torch_from_the_cpu_index(readme):
    """The step running the README's command sees pip's index set to PyTorch's CPU wheels."""
    build = workflow_build(readme)
    env = {
        **build.workflow.get("env", {}),
        **build.job.get("env", {}),
        **build.job["steps"][build.step].get("env", {}),
    }
    assert {name: env.get(name) for name in CPU_INDEX} == CPU_INDEX


def test_workflow_uploads_the_readme_output_folder(readme):
    """After the build, the job uploads the Pages artifact from the README's folder."""
    build = workflow_build(readme)
    steps = build.job["steps"]
    uploads = [i for i, step in enumerate(steps) if uses(step, "actions/upload-pages-artifact")]
    assert len(uploads) == 1
    assert uploads[0] > build.step
    assert steps[uploads[0]]["with"]["path"].rstrip("/") == readme.output
    configures = [i for i, step in enumerate(steps) if uses(step, "actions/configure-pages")]
    assert configures


def test_workflow_deploys_after_the_build(readme):
    """A deploy-pages job needs the build job and deploys to the github-pages environment."""
    build = workflow_build(readme)
    deploys = [
        job
        for job in build.workflow["jobs"].values()
        if any(uses(step, "actions/deploy-pages") for step in job.get("steps", []))
    ]
    assert len(deploys) == 1
    (deploy,) = deploys
    needs = deploy.get("needs", [])
    assert build.job_id in ([needs] if isinstance(needs, str) else needs)
    assert deploy["environment"]["name"] == "github-pages"
    (step,) = [step for step in deploy["steps"] if uses(step, "actions/deploy-pages")]
    url = "${{ steps." + step["id"] + ".outputs.page_url }}"
    assert deploy["environment"]["url"] == url


def test_hosts_build_with_the_same_supported_python(readme):
    """Both hosts use the same Python, and pyproject.toml's requires-python allows it."""
    rtd = load(RTD)["build"]["tools"]["python"]
    build = workflow_build(readme)
    (setup,) = [step for step in build.job["steps"] if uses(step, "actions/setup-python")]
    assert str(setup["with"]["python-version"]) == rtd
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    requires = re.search(r'^requires-python\s*=\s*"([^"]+)"', pyproject, re.MULTILINE)
    assert requires
    assert f"{rtd}.0" in SpecifierSet(requires.group(1))
