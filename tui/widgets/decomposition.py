"""Decomposition: the item split into sub-questions, as a tree to expand and ask follow-ups on."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from sandwich.views import AssistanceView
from tui.widgets.help_pane import status_notice


def _add(parent: TreeNode[dict[str, Any]], nodes: list[Any]) -> None:
    for n, node in enumerate(nodes or [], 1):
        node = node if isinstance(node, dict) else {"question": str(node)}
        node_id = str(node.get("id", n))
        label = Text.assemble((f"{node_id} ", "bold"), str(node.get("question", "")).strip())
        branch = parent.add(
            label, data={"id": node_id, "question": node.get("question", ""), "answer": node.get("answer", "")}
        )
        if node.get("answer"):
            branch.add_leaf(
                Text.assemble(("→ ", "bold green"), str(node["answer"]).strip()),
                data={"id": node_id, "question": node.get("question", ""), "answer": node.get("answer", "")},
            )
        _add(branch, node.get("children") or [])


def detail_text(data: dict[str, Any] | None) -> Text:
    """The full question and answer of a sub-question (the tree cuts long lines)."""
    if not data:
        return Text(
            "Select a sub-question (↑/↓, Enter to expand) to read the model's answer here. "
            "Press f to ask the model about it.",
            style="italic dim",
        )
    return Text.assemble(
        (f"Sub-question {data['id']}: ", "bold"),
        str(data.get("question", "")),
        "\n",
        ("Model's answer: ", "bold green"),
        str(data.get("answer", "") or "(none)"),
    )


class DecompositionTree(Tree[dict[str, Any]]):
    """The sub-question tree."""


class DecompositionPane(Vertical):
    """Tree of sub-questions with the highlighted one shown in full below it."""

    kind = "decomposition"

    def compose(self) -> ComposeResult:
        yield Static("", classes="help-notice")
        tree = DecompositionTree("Sub-questions", id="decomposition-tree")
        tree.show_root = False
        tree.guide_depth = 3
        yield tree
        with VerticalScroll(classes="node-detail"):
            yield Static(detail_text(None), id="node-detail")

    def show(self, view: AssistanceView) -> None:
        """Display this item's decomposition (or why there is none)."""
        self.view = view
        notice = status_notice(view)
        tree = self.query_one(DecompositionTree)
        tree.clear()
        self.query_one(".help-notice", Static).display = notice is not None
        tree.display = notice is None
        self.query_one(".node-detail").display = notice is None
        if notice is not None:
            self.query_one(".help-notice", Static).update(notice)
            return
        _add(tree.root, (view.content or {}).get("nodes") or [])
        tree.root.expand()
        self.query_one("#node-detail", Static).update(detail_text(None))

    @property
    def selected_node(self) -> dict[str, Any] | None:
        """The sub-question under the cursor, if any."""
        node = self.query_one(DecompositionTree).cursor_node
        return node.data if node is not None else None

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[dict[str, Any]]) -> None:
        self.query_one("#node-detail", Static).update(detail_text(event.node.data))
