"""Inbound e-mail: messages from customers that open tickets or continue them."""
