"""The subset of Shopify's GraphQL Admin API that the project speaks, as SDL.

Two variants, chosen by the API version in the request path, mirror the one change that
matters here: from 2025-10 a subscription's address is `uri` (on the input and the object);
before that the input takes `callbackUrl` and the object exposes it through `endpoint`.

The schema is written so that queries can be added without touching the webhook part: the
`orders` connection (paginated, filtered by `updated_at` through `query:`) is already here for
reconciliation, with line items and refunds rich enough to rebuild the REST-shaped facts.
"""

from __future__ import annotations

import functools
import re

from graphql import GraphQLSchema, build_schema

URI_VERSION = "2025-10"
VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")

_COMMON = """
scalar DateTime
scalar URL
scalar UnsignedInt64
scalar Decimal

type MoneyV2 {
  amount: Decimal!
  currencyCode: String!
}

type MoneyBag {
  shopMoney: MoneyV2!
  presentmentMoney: MoneyV2!
}

enum WebhookSubscriptionTopic {
  APP_UNINSTALLED
  ORDERS_CREATE
  ORDERS_UPDATED
  ORDERS_PAID
  ORDERS_CANCELLED
  ORDERS_FULFILLED
  ORDERS_DELETE
  REFUNDS_CREATE
  PRODUCTS_CREATE
  PRODUCTS_UPDATE
  PRODUCTS_DELETE
  INVENTORY_LEVELS_UPDATE
  INVENTORY_ITEMS_UPDATE
  CUSTOMERS_CREATE
  SHOP_UPDATE
}

enum WebhookSubscriptionFormat { JSON XML }
enum WebhookSubscriptionSortKeys { CREATED_AT ID RELEVANCE }
enum OrderSortKeys { CREATED_AT ID ORDER_NUMBER PROCESSED_AT UPDATED_AT RELEVANCE }
enum RefundLineItemRestockType { CANCEL LEGACY_RESTOCK NO_RESTOCK RETURN }
enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type UserError {
  field: [String!]
  message: String!
}

type ApiVersion {
  handle: String!
  displayName: String!
  supported: Boolean!
}

type ShopPlan {
  displayName: String!
  partnerDevelopment: Boolean!
  shopifyPlus: Boolean!
}

type Domain {
  host: String!
  url: URL!
}

type Shop {
  id: ID!
  name: String!
  myshopifyDomain: String!
  email: String!
  currencyCode: String!
  ianaTimezone: String!
  plan: ShopPlan!
  primaryDomain: Domain!
  createdAt: DateTime!
}

type WebhookHttpEndpoint {
  callbackUrl: URL!
}

type WebhookPubSubEndpoint {
  pubSubProject: String!
  pubSubTopic: String!
}

type WebhookEventBridgeEndpoint {
  arn: String!
}

union WebhookSubscriptionEndpoint = WebhookHttpEndpoint | WebhookPubSubEndpoint | WebhookEventBridgeEndpoint

type WebhookSubscriptionEdge {
  cursor: String!
  node: WebhookSubscription!
}

type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]!
  nodes: [WebhookSubscription!]!
  pageInfo: PageInfo!
}

type Count {
  count: Int!
  precision: String!
}

type WebhookSubscriptionCreatePayload {
  userErrors: [UserError!]!
  webhookSubscription: WebhookSubscription
}

type WebhookSubscriptionUpdatePayload {
  userErrors: [UserError!]!
  webhookSubscription: WebhookSubscription
}

type WebhookSubscriptionDeletePayload {
  deletedWebhookSubscriptionId: ID
  userErrors: [UserError!]!
}

type LineItem {
  id: ID!
  sku: String
  name: String!
  title: String!
  quantity: Int!
  currentQuantity: Int!
  refundableQuantity: Int!
}

type LineItemEdge {
  cursor: String!
  node: LineItem!
}

type LineItemConnection {
  edges: [LineItemEdge!]!
  nodes: [LineItem!]!
  pageInfo: PageInfo!
}

type RefundLineItem {
  id: ID
  lineItem: LineItem!
  quantity: Int!
  restockType: RefundLineItemRestockType!
  restocked: Boolean!
}

type RefundLineItemEdge {
  cursor: String!
  node: RefundLineItem!
}

type RefundLineItemConnection {
  edges: [RefundLineItemEdge!]!
  nodes: [RefundLineItem!]!
  pageInfo: PageInfo!
}

type Refund {
  id: ID!
  legacyResourceId: UnsignedInt64!
  createdAt: DateTime
  note: String
  totalRefundedSet: MoneyBag!
  refundLineItems(first: Int, after: String, last: Int, before: String): RefundLineItemConnection!
}

type Order {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  test: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  displayFinancialStatus: OrderDisplayFinancialStatus
  totalPriceSet: MoneyBag!
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
  refunds(first: Int): [Refund!]!
}

type OrderEdge {
  cursor: String!
  node: Order!
}

type OrderConnection {
  edges: [OrderEdge!]!
  nodes: [Order!]!
  pageInfo: PageInfo!
}

schema {
  query: QueryRoot
  mutation: Mutation
}
"""

_CURRENT = """
type WebhookSubscription {
  id: ID!
  legacyResourceId: UnsignedInt64!
  topic: WebhookSubscriptionTopic!
  format: WebhookSubscriptionFormat!
  apiVersion: ApiVersion!
  createdAt: DateTime!
  updatedAt: DateTime!
  includeFields: [String!]!
  metafieldNamespaces: [String!]!
  filter: String
  uri: String!
  callbackUrl: URL! @deprecated(reason: "Use `uri` instead.")
  endpoint: WebhookSubscriptionEndpoint! @deprecated(reason: "Use `uri` instead.")
}

input WebhookSubscriptionInput {
  uri: String
  format: WebhookSubscriptionFormat
  includeFields: [String!]
  metafieldNamespaces: [String!]
  filter: String
}

type QueryRoot {
  shop: Shop!
  webhookSubscription(id: ID!): WebhookSubscription
  webhookSubscriptions(
    first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
    sortKey: WebhookSubscriptionSortKeys = CREATED_AT, topics: [WebhookSubscriptionTopic!],
    format: WebhookSubscriptionFormat, uri: String, query: String,
    callbackUrl: URL @deprecated(reason: "Use `uri` instead.")
  ): WebhookSubscriptionConnection!
  webhookSubscriptionsCount(query: String, limit: Int): Count
  order(id: ID!): Order
  orders(
    first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
    sortKey: OrderSortKeys = ID, query: String
  ): OrderConnection!
}

type Mutation {
  webhookSubscriptionCreate(
    topic: WebhookSubscriptionTopic!, webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionCreatePayload
  webhookSubscriptionUpdate(id: ID!, webhookSubscription: WebhookSubscriptionInput!): WebhookSubscriptionUpdatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}
"""

_LEGACY = """
type WebhookSubscription {
  id: ID!
  legacyResourceId: UnsignedInt64!
  topic: WebhookSubscriptionTopic!
  format: WebhookSubscriptionFormat!
  apiVersion: ApiVersion!
  createdAt: DateTime!
  updatedAt: DateTime!
  includeFields: [String!]!
  metafieldNamespaces: [String!]!
  filter: String
  callbackUrl: URL! @deprecated(reason: "Use `endpoint` instead.")
  endpoint: WebhookSubscriptionEndpoint!
}

input WebhookSubscriptionInput {
  callbackUrl: URL
  format: WebhookSubscriptionFormat
  includeFields: [String!]
  metafieldNamespaces: [String!]
  filter: String
}

type QueryRoot {
  shop: Shop!
  webhookSubscription(id: ID!): WebhookSubscription
  webhookSubscriptions(
    first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
    sortKey: WebhookSubscriptionSortKeys = CREATED_AT, topics: [WebhookSubscriptionTopic!],
    format: WebhookSubscriptionFormat, callbackUrl: URL, query: String
  ): WebhookSubscriptionConnection!
  webhookSubscriptionsCount(query: String, limit: Int): Count
  order(id: ID!): Order
  orders(
    first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
    sortKey: OrderSortKeys = ID, query: String
  ): OrderConnection!
}

type Mutation {
  webhookSubscriptionCreate(
    topic: WebhookSubscriptionTopic!, webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionCreatePayload
  webhookSubscriptionUpdate(id: ID!, webhookSubscription: WebhookSubscriptionInput!): WebhookSubscriptionUpdatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}
"""


def uses_uri(version: str) -> bool:
    """From 2025-10 on (and `unstable`), a subscription's address is `uri`."""
    return version == "unstable" or version >= URI_VERSION


@functools.cache
def schema_for(version: str) -> GraphQLSchema:
    return _build(uses_uri(version))


@functools.cache
def _build(current: bool) -> GraphQLSchema:
    from .catalog import SDL as CATALOG_SDL  # products, variants, locations, inventory, bulk operations
    from .inventory import SDL as INVENTORY_SDL  # inventorySetQuantities, @idempotent, inventoryItem, nodes

    return build_schema(_COMMON + (_CURRENT if current else _LEGACY) + CATALOG_SDL + INVENTORY_SDL)
