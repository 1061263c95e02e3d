"""Live views of a job: progress bars, task stream, graph, all fed by one throttled observer.

``show_views(job, progress=True, stream=False, graph=False)`` returns the
container to display; ``Job.show()`` displays it; ``visualize`` draws a graph
to a file like Dask's.
"""

from kernel_ext.views.dot import visualize
from kernel_ext.views.show import JobViews, display_views, in_widget_frontend, show_views

__all__ = ["JobViews", "display_views", "in_widget_frontend", "show_views", "visualize"]
