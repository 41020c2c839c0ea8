"""Config tables that hold one of several kinds, told apart by their ``type`` key: sources,
rule actions, notifiers. A wrong ``type`` names the kinds there are."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Discriminator, Tag


def type_union(models: dict[str, type[BaseModel]], *, what: str, default: str = "") -> Any:
    """The pydantic type of a table that is one of ``models`` (by its ``type``; ``default`` when it has none)."""

    def type_of(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("type", default))
        return str(getattr(value, "type", default))

    kinds = tuple(Annotated[model, Tag(name)] for name, model in models.items())
    return Annotated[
        Union[kinds],  # noqa: UP007 (a union built from a tuple)
        Discriminator(type_of, custom_error_type=f"{what}_type",
                      custom_error_message=f"type must be one of {', '.join(models)}"),
    ]
