"""The Chat page: controller, transcript model, composer, sidebar, Text and Instruct modes. Imports
app.engine, app.data, app.shell helpers.
"""
