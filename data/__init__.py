"""Data: benchmark preparation and training-data builders."""
