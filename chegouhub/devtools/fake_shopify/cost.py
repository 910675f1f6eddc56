"""Shopify's calculated query cost, close enough to budget like the real API.

Objects cost 1, scalars and enums 0, a connection 2 plus `first`/`last` times the cost of one
node, each mutation field 10. The requested cost is charged before running; what was not used
(connections that returned fewer nodes than asked) is refunded afterwards, as Shopify does.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
)

MUTATION_COST = 10
CONNECTION_BASE = 2


class CostCalculator:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict | None):
        self.schema = schema
        self.variables = variables or {}
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def operation_cost(self, document: DocumentNode, operation_name: str | None) -> int:
        op = get_operation_ast(document, operation_name)
        if op is None:
            return 0
        if op.operation == OperationType.MUTATION:
            return MUTATION_COST * sum(1 for f in self._fields(self.schema.mutation_type, op.selection_set)
                                       if f[1].name.value != "__typename")
        return self.selection_cost(self.schema.query_type, op.selection_set)

    def _fields(self, parent_type, selection_set: SelectionSetNode | None):
        """(parent type, field node) for every field, fragments expanded."""
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                yield parent_type, sel
            elif isinstance(sel, InlineFragmentNode):
                cond = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent_type
                yield from self._fields(cond or parent_type, sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    cond = self.schema.get_type(frag.type_condition.name.value) or parent_type
                    yield from self._fields(cond, frag.selection_set)

    def selection_cost(self, parent_type, selection_set: SelectionSetNode | None) -> int:
        total = 0
        for owner, field in self._fields(parent_type, selection_set):
            fields = getattr(owner, "fields", None) or {}
            field_def = fields.get(field.name.value)
            if field_def is None:
                continue
            named = get_named_type(field_def.type)
            if is_leaf_type(named):
                continue
            if named.name.endswith("Connection"):
                size = self.page_size(field_def, field)
                total += CONNECTION_BASE + size * self.node_cost(named, field.selection_set)
            elif field.name.value == "nodes" and "ids" in field_def.args:  # a list of ids: each one a node
                total += self.list_size(field, "ids") * (1 + self.selection_cost(named, field.selection_set))
            else:
                total += 1 + self.selection_cost(named, field.selection_set)
        return total

    def list_size(self, field: FieldNode, name: str) -> int:
        for arg in field.arguments or ():
            if arg.name.value == name:
                if isinstance(arg.value, VariableNode):
                    value = self.variables.get(arg.value.name.value)
                    return len(value) if isinstance(value, list) else 1
                return len(arg.value.values) if isinstance(arg.value, ListValueNode) else 1
        return 0

    def page_size(self, field_def, field: FieldNode) -> int:
        """`first` or `last`, from a literal or a variable."""
        for arg in field.arguments or ():
            if arg.name.value not in ("first", "last"):
                continue
            value = arg.value
            if isinstance(value, VariableNode):
                raw = self.variables.get(value.name.value)
            elif isinstance(value, IntValueNode):
                raw = value.value
            else:
                raw = None
            try:
                return max(int(raw or 0), 0)
            except (TypeError, ValueError):
                return 0
        return 0

    def node_cost(self, connection_type, selection_set: SelectionSetNode | None) -> int:
        """Cost of one node of a connection, from `edges { node }` or `nodes`."""
        best = 0
        for owner, field in self._fields(connection_type, selection_set):
            name = field.name.value
            if name == "nodes":
                node_type = get_named_type(owner.fields["nodes"].type)
                best = max(best, 1 + self.selection_cost(node_type, field.selection_set))
            elif name == "edges":
                edge_type = get_named_type(owner.fields["edges"].type)
                for inner_owner, inner in self._fields(edge_type, field.selection_set):
                    if inner.name.value == "node":
                        node_type = get_named_type(inner_owner.fields["node"].type)
                        best = max(best, 1 + self.selection_cost(node_type, inner.selection_set))
        return best
