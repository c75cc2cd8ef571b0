"""The bundled MXNet ResNet trainer (needs the ``train`` extra)."""
