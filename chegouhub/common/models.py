"""`common` holds no models: it knows no domain app. (ReconcileCursor moved to the shopify app; its
migrations stay here as history.)"""
