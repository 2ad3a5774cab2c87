"""Run by nf-core tools' own python (tests/components_remote.py: lint): `nf-core modules lint --all` and
`nf-core subworkflows lint --all` on a components repository, every result printed as JSON.

    python nf_core_lint_components.py <repository folder> <its git remote URL> <branch>
"""

import json
import sys

from nf_core.modules.lint import ModuleLint
from nf_core.subworkflows.lint import SubworkflowLint

directory, url, branch = sys.argv[1:4]
out = {}
for kind, cls in (("modules", ModuleLint), ("subworkflows", SubworkflowLint)):
    linter = cls(directory, remote_url=url, branch=branch, hide_progress=True)
    if kind == "modules":
        linter.lint(all_modules=True, print_results=False)
    else:
        linter.lint(all_subworkflows=True, print_results=False)
    out[kind] = {result: [[r.component_name, r.parent_lint_test, r.lint_test, r.message]
                          for r in getattr(linter, result)]
                 for result in ("passed", "warned", "failed")}
json.dump(out, sys.stdout)
