"""Build hook: the wheel carries the compiled catalogs (the .mo files are built, never committed)."""

import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CatalogsHook(BuildHookInterface):
    """Compile translations/<lang>/LC_MESSAGES/messages.po into the package's translations folder."""

    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        """Compile each catalog into a temporary folder and map it into the wheel."""
        if self.target_name != "wheel":
            return
        self.compiled = tempfile.TemporaryDirectory()
        for po in sorted(Path(self.root, "translations").glob("*/LC_MESSAGES/messages.po")):
            lang = po.parent.parent.name
            mo = Path(self.compiled.name, f"{lang}.mo")
            with open(po, "rb") as source, open(mo, "wb") as target:
                write_mo(target, read_po(source, locale=lang))
            build_data["force_include"][str(mo)] = f"intake/translations/{lang}/LC_MESSAGES/messages.mo"

    def finalize(self, version, build_data, artifact_path):
        """Remove the temporary folder."""
        if self.target_name == "wheel":
            self.compiled.cleanup()
